-- Registry: who is metered, through which gateway, measuring what.

CREATE TABLE quantities (
    name        text PRIMARY KEY,
    unit        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('cumulative', 'instantaneous')),
    description text NOT NULL
);
COMMENT ON TABLE quantities IS 'The quantities of wire format v1 (carbonledger.wire.QUANTITIES), each in one unit.';

INSERT INTO quantities (name, unit, kind, description) VALUES
    ('energy_import',        'kWh',   'cumulative',    'active energy imported'),
    ('energy_export',        'kWh',   'cumulative',    'active energy exported'),
    ('energy_generated',     'kWh',   'cumulative',    'own generation (PV...)'),
    ('active_power',         'kW',    'instantaneous', 'total active power'),
    ('gas_volume',           'Nm3',   'cumulative',    'natural gas, standard volume'),
    ('steam_mass',           't',     'cumulative',    'steam received'),
    ('heat',                 'GJ',    'cumulative',    'heat received'),
    ('diesel_mass',          't',     'cumulative',    'diesel consumed'),
    ('co2_concentration',    'mg/m3', 'instantaneous', 'CEMS CO2, dry standard'),
    ('o2_concentration',     '%',     'instantaneous', 'CEMS O2, volume'),
    ('flue_gas_flow',        'm3/h',  'instantaneous', 'CEMS flue-gas flow'),
    ('flue_gas_temperature', 'degC',  'instantaneous', 'flue-gas temp.'),
    ('flue_gas_pressure',    'Pa',    'instantaneous', 'flue-gas static p.'),
    ('flue_gas_moisture',    '%',     'instantaneous', 'flue-gas moisture');

CREATE TABLE enterprises (
    code          char(18) PRIMARY KEY CHECK (code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    name          text NOT NULL CHECK (name <> ''),
    industry_code text NOT NULL CHECK (industry_code ~ '^[0-9]{2}([0-9]{1,2})?$'),
    district      text NOT NULL CHECK (district <> ''),
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN enterprises.code IS 'Unified social credit code (GB 32100-2015), 18 characters';
COMMENT ON COLUMN enterprises.industry_code IS 'GB/T 4754-2017 division (2 digits) or class (4 digits)';

CREATE TABLE gateways (
    id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    credential_hash text,
    revoked_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, enterprise_code)
);
CREATE INDEX gateways_enterprise ON gateways (enterprise_code);

CREATE TABLE meters (
    id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
    enterprise_code char(18) NOT NULL,
    gateway_id      text NOT NULL,
    carrier         text NOT NULL CHECK (carrier IN
                        ('electricity', 'natural_gas', 'steam', 'heat', 'diesel', 'pv', 'flue_gas')),
    quantity        text NOT NULL REFERENCES quantities (name),
    unit            text NOT NULL,
    multiplier      numeric NOT NULL DEFAULT 1 CHECK (multiplier > 0),
    register_max    numeric CHECK (register_max > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- a meter reports through a gateway of its own enterprise
    FOREIGN KEY (gateway_id, enterprise_code) REFERENCES gateways (id, enterprise_code)
);
CREATE INDEX meters_enterprise ON meters (enterprise_code);
CREATE INDEX meters_gateway ON meters (gateway_id);
COMMENT ON COLUMN meters.quantity IS 'The quantity this meter is booked by; it may report others too';
COMMENT ON COLUMN meters.multiplier IS 'CT x PT ratio (or other scale) applied to register deltas';
COMMENT ON COLUMN meters.register_max IS 'Value at which the register rolls over to zero';
