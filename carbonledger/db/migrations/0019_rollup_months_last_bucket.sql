-- A statement that deletes (or moves out) every bucket of a sealed month of a series failed:
-- its row triggers run after the statement, so the first one that took the month's latest
-- bucket found no next latest (NULL into rollup_months.last_bucket, NOT NULL). Found on
-- 2026-12-04 by tests/analytics/test_months.py deleting a series' March in one statement.

CREATE OR REPLACE FUNCTION rollup_months_apply(r rollups_15m, sign integer) RETURNS void
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
        -- the latest bucket went: the next latest, as the statement left the buckets; none
        -- when the statement took every bucket of the month (its later rows take the sums down
        -- to the last one, which deletes the row), so the old bound stays until then
        UPDATE rollup_months SET last_bucket = coalesce((
            SELECT max(x.bucket) FROM rollups_15m x
            WHERE x.meter_id = r.meter_id AND x.quantity = r.quantity
              AND x.enterprise_code = r.enterprise_code
              AND x.bucket >= (m::timestamp AT TIME ZONE 'Asia/Shanghai')
              AND x.bucket < ((m + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai')),
            last_bucket)
        WHERE meter_id = r.meter_id AND quantity = r.quantity AND month = m
          AND enterprise_code = r.enterprise_code;
    END IF;
END $$;
