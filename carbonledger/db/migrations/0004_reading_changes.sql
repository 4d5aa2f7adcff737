-- A change log of raw readings: one row per (enterprise, meter, quantity) per committed batch,
-- written by the same transaction that stored the readings. Consumers (the aggregator) follow it
-- by transaction id instead of rescanning `readings`: every transaction below
-- pg_snapshot_xmin(pg_current_snapshot()) has finished, so a consumer that has processed all rows
-- with txid below some xmin never needs to look there again, whatever order commits happened in.

CREATE TABLE reading_changes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    enterprise_code char(18) NOT NULL,
    meter_id        text NOT NULL,
    quantity        text NOT NULL,
    first_time      timestamptz NOT NULL,
    last_time       timestamptz NOT NULL,
    readings        integer NOT NULL CHECK (readings > 0),
    committed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reading_changes_txid ON reading_changes (txid);
COMMENT ON TABLE reading_changes IS
    'Which series got new readings in which transaction: the aggregator''s input (see migration 0004)';
COMMENT ON COLUMN reading_changes.first_time IS 'Earliest reading time stored by this transaction for the series';
