-- What the producers say of their own state, for other rooms (the API's ingest health): ingest
-- owns readings and dead letters, analytics its watermarks; readers do not query those tables.

CREATE VIEW ingest_recent AS
SELECT r.readings_5m, r.last_received,
       d.dead_letters_1h, d.dead_letters_1d
FROM (SELECT count(*) AS readings_5m, max(received_at) AS last_received
      FROM readings WHERE time > now() - interval '5 minutes') r,
     (SELECT count(*) FILTER (WHERE received_at > now() - interval '1 hour') AS dead_letters_1h,
             count(*) AS dead_letters_1d
      FROM dead_letters WHERE received_at > now() - interval '1 day') d;
COMMENT ON VIEW ingest_recent IS
    'Readings measured in the last 5 minutes and the latest receipt; dead letters of the last hour and day';

CREATE VIEW dead_letter_reasons_1d AS
SELECT left(reason, 120) AS reason, count(*) AS messages
FROM dead_letters WHERE received_at > now() - interval '1 day'
GROUP BY 1;
COMMENT ON VIEW dead_letter_reasons_1d IS 'Dead letters of the last day by reason (cut to 120 characters)';

CREATE VIEW aggregation_backlog AS
SELECT w.at AS watermark_at, w.txid AS watermark_txid,
       CASE WHEN w.txid IS NULL THEN 0
            ELSE (SELECT count(*) FROM reading_changes c WHERE c.txid >= w.txid) END AS changes
FROM (SELECT min(updated_at) AS at, min(txid) AS txid FROM aggregator_watermarks) w;
COMMENT ON VIEW aggregation_backlog IS
    'The oldest aggregator watermark and how many reading changes are at or past it (the backlog)';
