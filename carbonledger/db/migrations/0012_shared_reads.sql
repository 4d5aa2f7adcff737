-- Reads that several rooms share, written once (docs/architecture.md: other packages read through
-- views or functions the producer owns, not through its tables).

-- The booked view also carries the bucket's count of refused readings, so the data-quality
-- panels read booked quantities instead of the aggregator's table.
CREATE OR REPLACE VIEW booked_rollups AS
SELECT r.bucket, r.enterprise_code, r.meter_id, m.carrier, r.quantity, x.role,
       coalesce(m.source, m.carrier) AS source,
       CASE WHEN x.role IN ('combustion', 'process') THEN 1
            WHEN x.role IN ('purchased', 'exported') THEN 2 END::smallint AS scope,
       CASE WHEN x.role = 'exported' THEN -1 ELSE 1 END AS sign,
       r.activity_fp, q.scale, r.activity_fp / (10::numeric ^ q.scale) AS activity, q.unit,
       r.covered_ms, r.estimated_ms, r.updated_at,
       (date_trunc('month', r.bucket AT TIME ZONE 'Asia/Shanghai'))::date AS month,
       r.readings_bad
FROM rollups_15m r
JOIN meters m ON m.id = r.meter_id
JOIN booking_rules b ON b.carrier = m.carrier AND b.quantity = r.quantity
JOIN rollup_quantities q ON q.quantity = r.quantity
CROSS JOIN LATERAL (SELECT CASE WHEN r.quantity = m.quantity THEN coalesce(m.role, b.role)
                                ELSE b.role END AS role) x
WHERE NOT b.only_own OR r.quantity = m.quantity;

-- Each meter's newest reading of the quantity it is booked by, at or before `until`: one
-- backward scan of the readings identity index (meter_id, quantity, time) per meter. Owned by
-- ingest (the writer of readings); the dashboards and the API's ingest health read it.
CREATE FUNCTION meter_last_readings(until timestamptz DEFAULT 'infinity')
RETURNS TABLE (meter_id text, enterprise_code char(18), quantity text, last_reading timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT m.id, m.enterprise_code, m.quantity,
           (SELECT max(r.time) FROM readings r
            WHERE r.meter_id = m.id AND r.quantity = m.quantity AND r.time <= until)
    FROM meters m
$$;
COMMENT ON FUNCTION meter_last_readings(timestamptz) IS
    'Newest reading time of each meter''s booked quantity at or before until (NULL: none)';
