-- Analytics rollups (issue 5): 15-minute buckets per meter and quantity in fixed point, the
-- hour/day/month views built from them in Asia/Shanghai, data-quality events, and the
-- aggregator's durable watermarks. Written by `carbonledger aggregate` (analytics/).

ALTER TABLE meters ADD COLUMN max_rate numeric CHECK (max_rate > 0);
COMMENT ON COLUMN meters.max_rate IS
    'Register units per hour the meter can physically count; NULL: the carrier default (aggregate.max_rate)';

CREATE TABLE rollup_quantities (
    quantity text PRIMARY KEY,
    unit     text NOT NULL,
    scale    smallint NOT NULL CHECK (scale BETWEEN 0 AND 9),
    source   text NOT NULL
);
COMMENT ON TABLE rollup_quantities IS
    'Rolled-up quantities: activity_fp / 10^scale is the activity in unit (see docs/analytics.md)';
INSERT INTO rollup_quantities (quantity, unit, scale, source) VALUES
    ('energy_import',    'kWh', 4, 'register delta x multiplier'),
    ('energy_export',    'kWh', 4, 'register delta x multiplier'),
    ('energy_generated', 'kWh', 4, 'register delta x multiplier'),
    ('gas_volume',       'Nm3', 4, 'register delta x multiplier'),
    ('steam_mass',       't',   4, 'register delta x multiplier'),
    ('heat',             'GJ',  4, 'register delta x multiplier'),
    ('diesel_mass',      't',   4, 'register delta x multiplier'),
    ('active_power',     'kWh', 4, 'kW integrated (trapezoid)'),
    ('co2_mass',         't',   6, 'CEMS: C x Qsn integrated (HJ 75-2017)');

CREATE TABLE rollups_15m (
    bucket          timestamptz NOT NULL,
    enterprise_code char(18) NOT NULL,
    meter_id        text NOT NULL,
    quantity        text NOT NULL REFERENCES rollup_quantities (quantity),
    activity_fp     bigint NOT NULL,
    covered_ms      integer NOT NULL CHECK (covered_ms BETWEEN 0 AND 900000),
    estimated_ms    integer NOT NULL CHECK (estimated_ms BETWEEN 0 AND 900000),
    readings_good      integer NOT NULL DEFAULT 0,
    readings_estimated integer NOT NULL DEFAULT 0,
    readings_bad       integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, quantity, bucket)
);
CREATE INDEX rollups_15m_enterprise ON rollups_15m (enterprise_code, bucket);
CREATE INDEX rollups_15m_bucket ON rollups_15m (bucket);
COMMENT ON TABLE rollups_15m IS
    'Activity per meter, quantity and 15-minute bucket [bucket, bucket + 15 min), exact fixed point';
COMMENT ON COLUMN rollups_15m.activity_fp IS 'Activity x 10^rollup_quantities.scale (exact integer)';
COMMENT ON COLUMN rollups_15m.covered_ms IS 'Time of the bucket covered by booked intervals between usable readings';
COMMENT ON COLUMN rollups_15m.estimated_ms IS 'Part of covered_ms whose interval has an estimated end reading';

-- Hours, days and months are sums of 15-minute buckets in Asia/Shanghai (a day starts 00:00
-- +08:00). Views, so they can never disagree with the buckets; sum(bigint) is numeric: exact.
CREATE VIEW rollups_15m_activity AS
SELECT r.*, r.activity_fp / (10::numeric ^ q.scale) AS activity, q.unit,
       (r.covered_ms / 900000.0)::numeric(6, 5) AS coverage
FROM rollups_15m r JOIN rollup_quantities q USING (quantity);

CREATE VIEW rollups_hour AS
SELECT date_trunc('hour', r.bucket) AS bucket, r.enterprise_code, r.meter_id, r.quantity,
       sum(r.activity_fp) AS activity_fp, sum(r.activity_fp) / (10::numeric ^ q.scale) AS activity,
       q.unit, sum(r.covered_ms)::bigint AS covered_ms, sum(r.estimated_ms)::bigint AS estimated_ms,
       sum(r.readings_good)::bigint AS readings_good,
       sum(r.readings_estimated)::bigint AS readings_estimated,
       sum(r.readings_bad)::bigint AS readings_bad, max(r.updated_at) AS updated_at
FROM rollups_15m r JOIN rollup_quantities q USING (quantity)
GROUP BY 1, r.enterprise_code, r.meter_id, r.quantity, q.scale, q.unit;

CREATE VIEW rollups_day AS
SELECT (date_trunc('day', r.bucket AT TIME ZONE 'Asia/Shanghai'))::date AS day,
       r.enterprise_code, r.meter_id, r.quantity,
       sum(r.activity_fp) AS activity_fp, sum(r.activity_fp) / (10::numeric ^ q.scale) AS activity,
       q.unit, sum(r.covered_ms)::bigint AS covered_ms, sum(r.estimated_ms)::bigint AS estimated_ms,
       sum(r.readings_good)::bigint AS readings_good,
       sum(r.readings_estimated)::bigint AS readings_estimated,
       sum(r.readings_bad)::bigint AS readings_bad, max(r.updated_at) AS updated_at
FROM rollups_15m r JOIN rollup_quantities q USING (quantity)
GROUP BY 1, r.enterprise_code, r.meter_id, r.quantity, q.scale, q.unit;

CREATE VIEW rollups_month AS
SELECT (date_trunc('month', r.bucket AT TIME ZONE 'Asia/Shanghai'))::date AS month,
       r.enterprise_code, r.meter_id, r.quantity,
       sum(r.activity_fp) AS activity_fp, sum(r.activity_fp) / (10::numeric ^ q.scale) AS activity,
       q.unit, sum(r.covered_ms)::bigint AS covered_ms, sum(r.estimated_ms)::bigint AS estimated_ms,
       sum(r.readings_good)::bigint AS readings_good,
       sum(r.readings_estimated)::bigint AS readings_estimated,
       sum(r.readings_bad)::bigint AS readings_bad, max(r.updated_at) AS updated_at
FROM rollups_15m r JOIN rollup_quantities q USING (quantity)
GROUP BY 1, r.enterprise_code, r.meter_id, r.quantity, q.scale, q.unit;

CREATE TABLE quality_events (
    meter_id        text NOT NULL,
    quantity        text NOT NULL,
    kind            text NOT NULL CHECK (kind IN
                        ('offline', 'stuck', 'spike', 'reset', 'negative_delta', 'clock_skew')),
    time            timestamptz NOT NULL,
    enterprise_code char(18) NOT NULL,
    amount          numeric NOT NULL,
    detail          text NOT NULL,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, quantity, kind, time)
);
CREATE INDEX quality_events_enterprise ON quality_events (enterprise_code, time);
CREATE INDEX quality_events_kind ON quality_events (kind, time);
COMMENT ON TABLE quality_events IS
    'Data-quality findings, each owned by the 15-minute bucket of its time and rewritten with it';
COMMENT ON COLUMN quality_events.amount IS
    'offline, stuck: seconds; spike, negative_delta: register delta; reset: new register value; clock_skew: seconds ahead';

CREATE TABLE aggregator_watermarks (
    partitions  integer NOT NULL CHECK (partitions >= 1),
    partition   integer NOT NULL CHECK (partition >= 0 AND partition < partitions),
    txid        xid8 NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partitions, partition)
);
COMMENT ON TABLE aggregator_watermarks IS
    'Every reading_changes row of this partition with txid below this one is reflected in the rollups';
