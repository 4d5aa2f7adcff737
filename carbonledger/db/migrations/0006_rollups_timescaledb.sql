-- requires: timescaledb
-- The 15-minute rollups as a hypertable (30-day chunks): same table, same queries, and old
-- months drop out of the hot set. The hour/day/month views stay views over it, because a
-- continuous aggregate would lag the streaming aggregator's upserts.

SELECT create_hypertable('rollups_15m', by_range('bucket', INTERVAL '30 days'), migrate_data => true);
