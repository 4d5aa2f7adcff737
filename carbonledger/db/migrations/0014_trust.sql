-- Trust (trust/, docs/trust.md): signed certificates of closed accounts, their revocations,
-- and third-party verification of annual accounts (assignments, findings, statements).

CREATE TABLE certificates (
    id              text PRIMARY KEY CHECK (id ~ '^crt_[a-z0-9]{16}$'),
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    period_kind     text NOT NULL CHECK (period_kind IN ('month', 'year')),
    period_start    date NOT NULL,
    account_version integer NOT NULL CHECK (account_version >= 1),
    key_id          text NOT NULL,
    deployment      text NOT NULL,
    issued_at       timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL CHECK (expires_at > issued_at),
    token           text NOT NULL,
    payload         jsonb NOT NULL
);
CREATE INDEX certificates_account ON certificates (enterprise_code, period_kind, period_start);
COMMENT ON TABLE certificates IS
    'Issued certificates: the signed token as handed out, and its payload for lookups';

CREATE TABLE certificate_revocations (
    certificate_id text PRIMARY KEY REFERENCES certificates (id),
    revoked_at     timestamptz NOT NULL,
    cause          text NOT NULL CHECK (cause IN ('recompute', 'verification_withdrawn')),
    reason         text NOT NULL CHECK (reason <> '')
);
COMMENT ON TABLE certificate_revocations IS
    'Why and when a certificate stopped vouching for its account (a newer version, a withdrawn verification)';

CREATE TABLE verifiers (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    name       text NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE verifiers IS 'Registered verification bodies (第三方核查机构)';

CREATE TABLE verification_assignments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    verifier_id     text NOT NULL REFERENCES verifiers (id),
    enterprise_code char(18) NOT NULL REFERENCES enterprises (code),
    year            integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    assigned_at     timestamptz NOT NULL,
    assigned_by     text NOT NULL,
    UNIQUE (enterprise_code, year)
);
COMMENT ON TABLE verification_assignments IS 'The bureau assigns a verifier to an enterprise-year';

CREATE TABLE verification_findings (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    assignment_id bigint NOT NULL REFERENCES verification_assignments (id),
    severity      text NOT NULL CHECK (severity IN ('observation', 'minor', 'major')),
    figure        text NOT NULL CHECK (figure <> ''),
    note          text NOT NULL CHECK (note <> ''),
    recorded_at   timestamptz NOT NULL,
    recorded_by   text NOT NULL
);

CREATE TABLE verification_statements (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    assignment_id   bigint NOT NULL REFERENCES verification_assignments (id),
    account_version integer NOT NULL CHECK (account_version >= 1),
    conclusion      text NOT NULL
        CHECK (conclusion IN ('verified', 'verified_with_adjustments', 'not_verified')),
    summary         text NOT NULL CHECK (summary <> ''),
    signed_at       timestamptz NOT NULL,
    signed_by       text NOT NULL,
    withdrawn_at    timestamptz,
    withdrawn_reason text,
    CHECK ((withdrawn_at IS NULL) = (withdrawn_reason IS NULL))
);
CREATE INDEX verification_statements_assignment ON verification_statements (assignment_id);
COMMENT ON TABLE verification_statements IS
    'A verifier''s conclusion on one version of an annual account; superseded once that version is';

-- The ledger's current version of each stored account (what a certificate is checked against:
-- a newer version revokes it), read by trust without touching account_periods itself.
CREATE VIEW current_account_versions AS
    SELECT enterprise_code, period_kind, period_start, version, reason
    FROM account_periods WHERE status <> 'superseded';

-- What the API reads to let a verifier's key see the enterprises it is assigned to.
CREATE VIEW verifier_enterprises AS
    SELECT verifier_id, enterprise_code, year FROM verification_assignments;

-- A verifier's staff hold keys of role 'verifier', each bound to its verification body.
ALTER TABLE api_keys ADD COLUMN verifier_id text REFERENCES verifiers (id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('bureau', 'bank', 'enterprise', 'admin', 'verifier'));
ALTER TABLE api_keys ADD CONSTRAINT api_keys_verifier_check
    CHECK ((role = 'verifier') = (verifier_id IS NOT NULL));
