-- Carbon accounts (issue 6, accounts/): the factor library, the factors each enterprise-month
-- uses under the current policy, the booked rollups and live per-bucket emissions, materialised
-- account periods with versions, and grades. docs/accounts.md describes all of it.

CREATE TABLE factors (
    id             text NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9._-]*$'),
    version        integer NOT NULL CHECK (version >= 1),
    kind           text NOT NULL CHECK (kind IN ('grid', 'fuel', 'heat', 'steam', 'tce')),
    subject        text NOT NULL,
    series         text NOT NULL,
    value          numeric NOT NULL,
    unit           text NOT NULL,
    ncv            numeric,
    ncv_unit       text,
    carbon_content numeric,
    oxidation      numeric,
    guideline      text,
    standard       text,
    source         text NOT NULL,
    document       text NOT NULL,
    data_year      integer,
    published      date NOT NULL,
    region         text NOT NULL,
    scope          text NOT NULL CHECK (scope IN ('scope1', 'scope2', 'energy')),
    valid_from     date NOT NULL,
    valid_to       date,
    verify         boolean NOT NULL DEFAULT false,
    note           text NOT NULL DEFAULT '',
    data_file      text NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, version),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
COMMENT ON TABLE factors IS
    'The factor library (accounts/factors/*.toml), loaded idempotently; a correction is a new version';
COMMENT ON COLUMN factors.value IS
    'In unit; for fuels the tCO2 per NCV unit quantity derived exactly as ncv x carbon_content x oxidation x 44/12';
COMMENT ON COLUMN factors.verify IS 'true: the value came from a single secondary source (domain.md)';

CREATE TABLE measured_ncv (
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    fuel            text NOT NULL,
    valid_from      date NOT NULL,
    valid_to        date,
    ncv             numeric NOT NULL CHECK (ncv > 0),
    ncv_unit        text NOT NULL CHECK (ncv_unit IN ('GJ/t', 'GJ/10^4Nm3')),
    source          text NOT NULL CHECK (source <> ''),
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_code, fuel, valid_from),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
COMMENT ON TABLE measured_ncv IS
    'An enterprise''s measured net calorific value: replaces the default NCV (emissions and tce)';

CREATE TABLE green_power_purchases (
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    month           date NOT NULL CHECK (month = date_trunc('month', month)::date),
    kwh             numeric NOT NULL CHECK (kwh >= 0),
    certificate     text NOT NULL CHECK (certificate <> ''),
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_code, month, certificate)
);
COMMENT ON TABLE green_power_purchases IS
    'Green electricity bought (绿电交易, with its certificate): zero-rated under accounts.green_power = "residual"';

-- Which rolled-up quantity of which carrier is booked, and as what. A meter's own quantity
-- takes meters.role when set; other quantities it reports take the rule's role (only_own:
-- booked only when it is the meter's own quantity, e.g. kW integrated on a meter with no register).
CREATE TABLE booking_rules (
    carrier  text NOT NULL,
    quantity text NOT NULL REFERENCES rollup_quantities (quantity),
    role     text NOT NULL,
    only_own boolean NOT NULL,
    PRIMARY KEY (carrier, quantity)
);
INSERT INTO booking_rules (carrier, quantity, role, only_own) VALUES
    ('electricity', 'energy_import',    'purchased',      false),
    ('electricity', 'energy_export',    'exported',       false),
    ('electricity', 'active_power',     'purchased',      true),
    ('pv',          'energy_generated', 'own_generation', false),
    ('pv',          'active_power',     'own_generation', true),
    ('natural_gas', 'gas_volume',       'combustion',     false),
    ('diesel',      'diesel_mass',      'combustion',     false),
    ('steam',       'steam_mass',       'purchased',      false),
    ('heat',        'heat',             'purchased',      false),
    ('flue_gas',    'co2_mass',         'measured',       false);

CREATE VIEW booked_rollups AS
SELECT r.bucket, r.enterprise_code, r.meter_id, m.carrier, r.quantity, x.role,
       coalesce(m.source, m.carrier) AS source,
       CASE WHEN x.role IN ('combustion', 'process') THEN 1
            WHEN x.role IN ('purchased', 'exported') THEN 2 END::smallint AS scope,
       CASE WHEN x.role = 'exported' THEN -1 ELSE 1 END AS sign,
       r.activity_fp, q.scale, r.activity_fp / (10::numeric ^ q.scale) AS activity, q.unit,
       r.covered_ms, r.estimated_ms, r.updated_at,
       (date_trunc('month', r.bucket AT TIME ZONE 'Asia/Shanghai'))::date AS month
FROM rollups_15m r
JOIN meters m ON m.id = r.meter_id
JOIN booking_rules b ON b.carrier = m.carrier AND b.quantity = r.quantity
JOIN rollup_quantities q ON q.quantity = r.quantity
CROSS JOIN LATERAL (SELECT CASE WHEN r.quantity = m.quantity THEN coalesce(m.role, b.role)
                                ELSE b.role END AS role) x
WHERE NOT b.only_own OR r.quantity = m.quantity;
COMMENT ON VIEW booked_rollups IS
    'rollups_15m rows that enter an account, with their role (GB/T 32150 term), scope and sign';

CREATE TABLE factor_selection (
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    month           date NOT NULL CHECK (month = date_trunc('month', month)::date),
    carrier         text NOT NULL,
    factor_id       text,
    tco2_num        numeric,
    tco2_den        numeric CHECK (tco2_den > 0),
    tce_equivalent  numeric,
    tce_equal       numeric,
    tce_factor_ids  text,
    selected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_code, month, carrier)
);
COMMENT ON TABLE factor_selection IS
    'The factors the current policy picks per enterprise, local month and carrier (written by accounts/)';
COMMENT ON COLUMN factor_selection.tco2_num IS 'tCO2 per activity unit = tco2_num / tco2_den (exact)';

CREATE VIEW emissions_15m AS
SELECT b.bucket, b.enterprise_code, b.meter_id, b.carrier, b.role, b.source, b.scope,
       b.activity, b.unit,
       CASE WHEN b.scope IS NOT NULL THEN
           b.sign * b.activity_fp * f.tco2_num / (f.tco2_den * 10::numeric ^ b.scale) END AS tco2,
       CASE WHEN b.role = 'measured' THEN b.activity END AS tco2_measured,
       CASE WHEN b.role = 'own_generation' THEN
           b.activity_fp * f.tco2_num / (f.tco2_den * 10::numeric ^ b.scale) END AS tco2_avoided,
       CASE WHEN b.scope IS NOT NULL THEN b.sign * b.activity * f.tce_equivalent END
           AS tce_equivalent,
       CASE WHEN b.scope IS NOT NULL THEN b.sign * b.activity * f.tce_equal END AS tce_equal,
       f.factor_id, f.tce_factor_ids
FROM booked_rollups b
LEFT JOIN factor_selection f
       ON f.enterprise_code = b.enterprise_code AND f.month = b.month AND f.carrier = b.carrier;
COMMENT ON VIEW emissions_15m IS
    'Live emissions per meter and 15-minute bucket with the factors in force (factor_selection); '
    'tco2 NULL for own generation (tco2_avoided) and CEMS (tco2_measured)';

CREATE TABLE account_periods (
    enterprise_code   char(18) NOT NULL REFERENCES enterprises (code),
    period_kind       text NOT NULL CHECK (period_kind IN ('month', 'year', 'rolling12', 'mtd')),
    period_start      date NOT NULL,
    version           integer NOT NULL CHECK (version >= 1),
    period_end        date NOT NULL CHECK (period_end > period_start),
    status            text NOT NULL CHECK (status IN ('live', 'closed', 'superseded')),
    as_of             timestamptz NOT NULL,
    tco2_total        numeric NOT NULL,
    tco2_scope1       numeric NOT NULL,
    tco2_scope2       numeric NOT NULL,
    tco2_own_generation_avoided numeric NOT NULL,
    tco2_measured     numeric,
    tce_equivalent    numeric NOT NULL,
    tce_equal         numeric NOT NULL,
    value_added       numeric,
    revenue           numeric,
    intensity_va      numeric,
    intensity_revenue numeric,
    coverage          numeric NOT NULL CHECK (coverage >= 0),
    estimated_share   numeric NOT NULL,
    offline_meters    integer NOT NULL,
    detail            jsonb NOT NULL,
    computed_at       timestamptz NOT NULL DEFAULT now(),
    reason            text,
    superseded_at     timestamptz,
    PRIMARY KEY (enterprise_code, period_kind, period_start, version)
);
CREATE UNIQUE INDEX account_periods_current ON account_periods (enterprise_code, period_kind, period_start)
    WHERE status <> 'superseded';
CREATE INDEX account_periods_period ON account_periods (period_kind, period_start) WHERE status <> 'superseded';
COMMENT ON TABLE account_periods IS
    'Materialised accounts: live (refreshed by `accounts run`), closed (frozen) and superseded versions';
COMMENT ON COLUMN account_periods.detail IS 'The Account as JSON (lines with factor ids, economics, quality)';
COMMENT ON COLUMN account_periods.reason IS 'Why this version exists (close, recompute --reason)';

CREATE TABLE grades (
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    period_kind     text NOT NULL CHECK (period_kind IN ('month', 'year', 'rolling12', 'mtd')),
    period_start    date NOT NULL,
    model           text NOT NULL,
    model_version   text NOT NULL,
    industry_code   text NOT NULL,
    l_value         numeric,
    industry_l      numeric,
    k_value         numeric,
    grade           smallint CHECK (grade BETWEEN 1 AND 5),
    colour          text CHECK (colour IN ('深绿', '浅绿', '黄', '红')),
    level           text CHECK (level IN ('低碳', '中碳', '高碳')),
    basis           text CHECK (basis IN ('value_added', 'revenue')),
    label           text NOT NULL,
    account_version integer NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_code, period_kind, period_start, model, model_version)
);
CREATE INDEX grades_period ON grades (period_kind, period_start);
COMMENT ON TABLE grades IS
    'Carbon-efficiency codes per enterprise and period: L, industry L (aggregate ratio), K, grade or colour, level';
