-- Stored month sums of sealed months (issue 15): a closed year of a province is about 5 billion
-- 15-minute rollups, too many to read in a recompute; its month sums are 1.7 million rows.
--
-- rollup_months holds, for every local (Asia/Shanghai) month before rollup_seal.sealed_before,
-- exactly the integers the ledger sums from rollups_15m per (enterprise, meter, quantity, month):
-- sum(activity_fp), sum(covered_ms), sum(estimated_ms), count(*) and max(bucket). Row triggers
-- keep it exact under every later write of rollups_15m (late readings, `aggregate recompute`,
-- the history writer's delete and COPY, any other SQL), on plain PostgreSQL and on a TimescaleDB
-- hypertable (row triggers are supported there; statement triggers with transition tables are
-- not). Months from sealed_before on are read from rollups_15m itself.
--
-- Sealing (analytics/_months.py) moves two bounds, each a month start:
--   tracked_before: writes of buckets before it fire the triggers;
--   sealed_before <= tracked_before: months before it have their sums stored.
-- A write into a tracked month that is not sealed yet marks its (meter, quantity, month) dirty
-- (the sums are being computed from a snapshot that may miss it); sealing recomputes the dirty
-- ones under a SHARE lock, then moves sealed_before. A write into a sealed month adjusts its
-- row by the difference, in the writer's transaction.
--
-- The triggers' WHEN compares with rollup_months_tracked_before(), a SQL function whose body is
-- the bound as a constant: it is inlined when a statement starts, so a write of a current bucket
-- costs one comparison, not a function call per row. Sealing replaces the function and the
-- rollup_seal row in one transaction; the trigger function checks that its snapshot sees the
-- same bounds (a REPEATABLE READ writer whose snapshot predates a seal is failed with a
-- serialization failure, to be retried, rather than write against bounds it cannot see).

CREATE TABLE rollup_months (
    month           date NOT NULL,
    enterprise_code char(18) NOT NULL,
    meter_id        text NOT NULL,
    quantity        text NOT NULL,
    activity_fp     numeric NOT NULL,
    covered_ms      bigint NOT NULL,
    estimated_ms    bigint NOT NULL,
    buckets         bigint NOT NULL CHECK (buckets > 0),
    last_bucket     timestamptz NOT NULL,
    PRIMARY KEY (meter_id, quantity, month, enterprise_code)
);
CREATE INDEX rollup_months_enterprise ON rollup_months (enterprise_code, month);
COMMENT ON TABLE rollup_months IS
    'Sums of rollups_15m per meter, quantity, local month and enterprise, for sealed months only';

CREATE TABLE rollup_months_dirty (
    month    date NOT NULL,
    meter_id text NOT NULL,
    quantity text NOT NULL,
    PRIMARY KEY (month, meter_id, quantity)
);
COMMENT ON TABLE rollup_months_dirty IS
    'Series of months being sealed that were written meanwhile: recomputed when the seal ends';

CREATE TABLE rollup_seal (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    sealed_before  date NOT NULL,
    tracked_before date NOT NULL,
    CHECK (sealed_before <= tracked_before),
    CHECK (extract(day FROM sealed_before) = 1 AND extract(day FROM tracked_before) = 1)
);
INSERT INTO rollup_seal (sealed_before, tracked_before) VALUES ('1970-01-01', '1970-01-01');
COMMENT ON TABLE rollup_seal IS
    'Local months before sealed_before are read from rollup_months; writes before tracked_before fire its triggers';

CREATE FUNCTION rollup_months_tracked_before() RETURNS timestamptz
    LANGUAGE sql STABLE AS $$ SELECT timestamptz '1970-01-01 00:00:00+08' $$;
CREATE FUNCTION rollup_months_sealed_before() RETURNS timestamptz
    LANGUAGE sql STABLE AS $$ SELECT timestamptz '1970-01-01 00:00:00+08' $$;

CREATE FUNCTION rollup_month_of(bucket timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE AS $$ SELECT (date_trunc('month', bucket AT TIME ZONE 'Asia/Shanghai'))::date $$;

-- One row's part of its month: added (sign 1) or taken away (sign -1).
CREATE FUNCTION rollup_months_apply(r rollups_15m, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m date := rollup_month_of(r.bucket);
    last_ timestamptz;
BEGIN
    IF sign > 0 THEN
        INSERT INTO rollup_months AS t (month, enterprise_code, meter_id, quantity, activity_fp,
                                        covered_ms, estimated_ms, buckets, last_bucket)
        VALUES (m, r.enterprise_code, r.meter_id, r.quantity, r.activity_fp, r.covered_ms,
                r.estimated_ms, 1, r.bucket)
        ON CONFLICT (meter_id, quantity, month, enterprise_code) DO UPDATE SET
            activity_fp = t.activity_fp + excluded.activity_fp,
            covered_ms = t.covered_ms + excluded.covered_ms,
            estimated_ms = t.estimated_ms + excluded.estimated_ms,
            buckets = t.buckets + 1,
            last_bucket = greatest(t.last_bucket, excluded.last_bucket);
        RETURN;
    END IF;
    DELETE FROM rollup_months WHERE meter_id = r.meter_id AND quantity = r.quantity
        AND month = m AND enterprise_code = r.enterprise_code AND buckets = 1;
    IF FOUND THEN
        RETURN;  -- its only bucket went
    END IF;
    UPDATE rollup_months SET activity_fp = activity_fp - r.activity_fp,
                             covered_ms = covered_ms - r.covered_ms,
                             estimated_ms = estimated_ms - r.estimated_ms,
                             buckets = buckets - 1
    WHERE meter_id = r.meter_id AND quantity = r.quantity AND month = m
      AND enterprise_code = r.enterprise_code
    RETURNING last_bucket INTO last_;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rollup_months has no row for % % % %', r.meter_id, r.quantity, m,
            r.enterprise_code USING ERRCODE = 'data_exception';
    ELSIF last_ = r.bucket THEN
        -- the latest bucket went: the next latest, as the statement left the buckets
        UPDATE rollup_months SET last_bucket = (
            SELECT max(x.bucket) FROM rollups_15m x
            WHERE x.meter_id = r.meter_id AND x.quantity = r.quantity
              AND x.enterprise_code = r.enterprise_code
              AND x.bucket >= (m::timestamp AT TIME ZONE 'Asia/Shanghai')
              AND x.bucket < ((m + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai'))
        WHERE meter_id = r.meter_id AND quantity = r.quantity AND month = m
          AND enterprise_code = r.enterprise_code;
    END IF;
END $$;

-- One written row of a tracked month: sealed, its sums move; being sealed, it is marked dirty.
CREATE FUNCTION rollup_months_route(r rollups_15m, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    seal rollup_seal;
BEGIN
    IF r.bucket >= rollup_months_tracked_before() THEN
        RETURN;
    END IF;
    SELECT * INTO seal FROM rollup_seal;
    IF (seal.sealed_before::timestamp AT TIME ZONE 'Asia/Shanghai') <> rollup_months_sealed_before()
       OR (seal.tracked_before::timestamp AT TIME ZONE 'Asia/Shanghai')
          <> rollup_months_tracked_before() THEN
        RAISE EXCEPTION 'the month seal moved after this transaction''s snapshot; retry'
            USING ERRCODE = 'serialization_failure';
    END IF;
    IF r.bucket < rollup_months_sealed_before() THEN
        PERFORM rollup_months_apply(r, sign);
    ELSE
        INSERT INTO rollup_months_dirty (month, meter_id, quantity)
        VALUES (rollup_month_of(r.bucket), r.meter_id, r.quantity) ON CONFLICT DO NOTHING;
    END IF;
END $$;

CREATE FUNCTION rollup_months_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM rollup_months_route(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM rollup_months_route(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER rollup_months_insert AFTER INSERT ON rollups_15m FOR EACH ROW
    WHEN (NEW.bucket < rollup_months_tracked_before()) EXECUTE FUNCTION rollup_months_follow();
CREATE TRIGGER rollup_months_update AFTER UPDATE ON rollups_15m FOR EACH ROW
    WHEN (OLD.bucket < rollup_months_tracked_before() OR NEW.bucket < rollup_months_tracked_before())
    EXECUTE FUNCTION rollup_months_follow();
CREATE TRIGGER rollup_months_delete AFTER DELETE ON rollups_15m FOR EACH ROW
    WHEN (OLD.bucket < rollup_months_tracked_before()) EXECUTE FUNCTION rollup_months_follow();

CREATE FUNCTION rollup_months_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rollup_months;
    DELETE FROM rollup_months_dirty;
    RETURN NULL;
END $$;
CREATE TRIGGER rollup_months_truncate AFTER TRUNCATE ON rollups_15m FOR EACH STATEMENT
    EXECUTE FUNCTION rollup_months_truncated();
