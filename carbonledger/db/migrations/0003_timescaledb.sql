-- requires: timescaledb
-- Turn readings into a hypertable (1-day chunks) and prepare it for compression, segmented by
-- meter so that one meter's series compresses and decompresses together. The compression and
-- retention policies are configuration and are (re)applied by `carbonledger db migrate`.

SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'), migrate_data => true);
DROP INDEX IF EXISTS readings_time_brin;
ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'meter_id, quantity',
    timescaledb.compress_orderby = 'time'
);
