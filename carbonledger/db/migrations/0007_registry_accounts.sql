-- Registry details the carbon accounts need (issue 6): size class, sites, what each meter books
-- (scope and emission source), and the enterprises' economic data per month or year.

ALTER TABLE enterprises
    ADD COLUMN size_class text CHECK (size_class IN ('large', 'medium', 'small', 'micro')),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN enterprises.size_class IS 'NBS size class of industrial enterprises (大/中/小/微型)';

CREATE TABLE sites (
    id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    name            text NOT NULL CHECK (name <> ''),
    address         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, enterprise_code)
);
CREATE INDEX sites_enterprise ON sites (enterprise_code);

ALTER TABLE meters
    ADD COLUMN site_id text,
    ADD COLUMN role text CHECK (role IN
        ('purchased', 'exported', 'own_generation', 'combustion', 'process', 'measured')),
    ADD COLUMN source text,
    ADD FOREIGN KEY (site_id, enterprise_code) REFERENCES sites (id, enterprise_code);
COMMENT ON COLUMN meters.role IS
    'What the metered activity is in the account (GB/T 32150 term); NULL: the carrier default '
    '(electricity/steam/heat purchased, fuels combustion, pv own_generation, flue_gas measured)';
COMMENT ON COLUMN meters.source IS 'Emission source as the account names it, e.g. 1号燃气锅炉; NULL: the carrier';

CREATE TABLE economic_data (
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    period_kind     text NOT NULL CHECK (period_kind IN ('month', 'year')),
    period_start    date NOT NULL,
    value_added     numeric CHECK (value_added >= 0),
    revenue         numeric CHECK (revenue >= 0),
    output_quantity numeric CHECK (output_quantity >= 0),
    output_unit     text,
    source          text NOT NULL DEFAULT 'enterprise',
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_code, period_kind, period_start),
    CHECK (period_kind = 'month' AND period_start = date_trunc('month', period_start)::date
        OR period_kind = 'year' AND period_start = date_trunc('year', period_start)::date),
    CHECK ((output_quantity IS NULL) = (output_unit IS NULL))
);
COMMENT ON TABLE economic_data IS
    'Economic data per enterprise and calendar month or year (Asia/Shanghai); money in 万元';
COMMENT ON COLUMN economic_data.value_added IS '工业增加值, 万元 (10,000 CNY)';
COMMENT ON COLUMN economic_data.revenue IS '营业收入, 万元';
