-- Raw readings, never updated in place, and the messages that could not be stored.

CREATE TABLE readings (
    time        timestamptz NOT NULL,
    meter_id    text NOT NULL,
    quantity    text NOT NULL,
    value       double precision NOT NULL,
    quality     text NOT NULL CHECK (quality IN ('good', 'estimated', 'bad')),
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT readings_identity UNIQUE (meter_id, quantity, time)
);
COMMENT ON TABLE readings IS 'Raw meter readings; identity (meter_id, quantity, time); a hypertable under TimescaleDB';
-- The identity index answers per-meter time ranges; BRIN answers city-wide time ranges cheaply
-- on a plain table, because readings arrive roughly in time order.
CREATE INDEX readings_time_brin ON readings USING brin (time);

CREATE TABLE dead_letters (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at       timestamptz NOT NULL DEFAULT now(),
    topic             text NOT NULL,
    payload           bytea NOT NULL,
    payload_sha256    bytea NOT NULL,
    reason            text NOT NULL,
    rejected_readings integer CHECK (rejected_readings > 0),
    accepted_readings integer NOT NULL DEFAULT 0 CHECK (accepted_readings >= 0),
    -- a message redelivered after a crash is recorded once
    UNIQUE (topic, payload_sha256)
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);
COMMENT ON COLUMN dead_letters.rejected_readings IS 'Readings refused; NULL: the whole message was unusable';
COMMENT ON COLUMN dead_letters.accepted_readings IS 'Readings of the same message that were valid and stored (or already present)';
