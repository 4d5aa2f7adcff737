-- A gateway's broker credential belongs to ingest (it writes the secret's hash, revokes it and
-- renders Mosquitto's passwd and acl files from it); the gateway itself is the registry's master
-- data. One writer per table (docs/architecture.md), so the two columns move to a table of their own.
CREATE TABLE gateway_credentials (
    gateway_id      text PRIMARY KEY REFERENCES gateways (id),
    credential_hash text,
    revoked_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE gateway_credentials IS
    'MQTT credential of a gateway: Mosquitto PBKDF2-SHA512 hash, revocation; written by ingest';

INSERT INTO gateway_credentials (gateway_id, credential_hash, revoked_at)
SELECT id, credential_hash, revoked_at FROM gateways
WHERE credential_hash IS NOT NULL OR revoked_at IS NOT NULL;

ALTER TABLE gateways DROP COLUMN credential_hash, DROP COLUMN revoked_at;
