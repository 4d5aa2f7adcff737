-- The HTTP API (accounts/api, docs/api.md): API keys stored hashed, banks, consents that
-- enterprises grant banks, the audit log of every data access, and watchlists with webhooks
-- (events, deliveries, and one row per delivery attempt).

CREATE TABLE banks (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    name       text NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE banks IS 'Banks that read consented accounts; their keys carry api_keys.bank_id';

CREATE TABLE api_keys (
    id              text PRIMARY KEY CHECK (id ~ '^clk_[a-z0-9]{10}$'),
    secret_sha256   bytea NOT NULL CHECK (length(secret_sha256) = 32),
    name            text NOT NULL CHECK (name <> ''),
    role            text NOT NULL CHECK (role IN ('bureau', 'bank', 'enterprise', 'admin')),
    enterprise_code char(18) REFERENCES enterprises (code),
    bank_id         text REFERENCES banks (id),
    rate_per_s      numeric CHECK (rate_per_s > 0),
    burst           integer CHECK (burst >= 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    CHECK ((role = 'enterprise') = (enterprise_code IS NOT NULL)),
    CHECK ((role = 'bank') = (bank_id IS NOT NULL))
);
COMMENT ON TABLE api_keys IS
    'API keys: the visible id is the key''s prefix; only the SHA-256 of the whole key is stored';
COMMENT ON COLUMN api_keys.rate_per_s IS 'Token-bucket refill per second; NULL: api.rate_per_s';

CREATE TABLE consents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    bank_id         text NOT NULL REFERENCES banks (id),
    scope           text[] NOT NULL CHECK (scope <> '{}' AND scope <@ ARRAY['account', 'timeseries']),
    granted_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    granted_by      text NOT NULL,
    revoked_at      timestamptz,
    revoked_by      text,
    CHECK (expires_at > granted_at),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
-- at most one unrevoked consent per pair: a new grant revokes the previous one
CREATE UNIQUE INDEX consents_current ON consents (enterprise_code, bank_id) WHERE revoked_at IS NULL;
CREATE INDEX consents_bank ON consents (bank_id) WHERE revoked_at IS NULL;
COMMENT ON COLUMN consents.scope IS
    'account: account, derivation, grades, watchlist events; timeseries: time series and export';

CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    key_id          text NOT NULL,
    role            text NOT NULL,
    principal       text,
    action          text NOT NULL,
    enterprise_code char(18),
    outcome         text NOT NULL CHECK (outcome IN ('granted', 'denied')),
    method          text NOT NULL,
    path            text NOT NULL,
    query           text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_enterprise ON audit_log (enterprise_code, id);
COMMENT ON TABLE audit_log IS
    'Every data access through the API (who, what, when, granted or denied), written before the data leaves';

CREATE TABLE watchlist (
    bank_id         text NOT NULL REFERENCES banks (id),
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    added_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank_id, enterprise_code)
);
CREATE INDEX watchlist_enterprise ON watchlist (enterprise_code);

CREATE TABLE webhooks (
    id         text PRIMARY KEY CHECK (id ~ '^wh_[a-z0-9]{10}$'),
    bank_id    text NOT NULL REFERENCES banks (id),
    url        text NOT NULL CHECK (url ~ '^https?://'),
    secret     text NOT NULL CHECK (length(secret) >= 16),
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX webhooks_bank ON webhooks (bank_id) WHERE deleted_at IS NULL;
COMMENT ON COLUMN webhooks.secret IS 'HMAC-SHA256 key the bank gave; needed in clear to sign events';

-- The last value of each watched signal of an enterprise (grade per period kind and model,
-- data quality), so a change is seen once however often the detector runs.
CREATE TABLE watch_signals (
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    signal          text NOT NULL,
    value           jsonb NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_code, signal)
);

CREATE TABLE webhook_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    type            text NOT NULL,
    enterprise_code char(18) REFERENCES enterprises (code),
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES webhook_events (id),
    webhook_id      text NOT NULL REFERENCES webhooks (id),
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    delivery_id     bigint NOT NULL REFERENCES webhook_deliveries (id),
    attempt         integer NOT NULL CHECK (attempt >= 1),
    at              timestamptz NOT NULL DEFAULT now(),
    duration_ms     integer NOT NULL,
    response_status integer,
    error           text,
    PRIMARY KEY (delivery_id, attempt)
);
COMMENT ON TABLE webhook_attempts IS 'The delivery log: one row per HTTP attempt, with its answer or error';
