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

-- What other rooms may know of a credential (never its hash): the registry shows it beside the
-- gateway, ingest's directory refuses a revoked gateway's readings.
CREATE VIEW gateway_access AS
SELECT g.id AS gateway_id, g.enterprise_code,
       c.credential_hash IS NOT NULL AS has_credential, c.revoked_at
FROM gateways g LEFT JOIN gateway_credentials c ON c.gateway_id = g.id;
COMMENT ON VIEW gateway_access IS
    'Each gateway with whether it has a broker credential and when that was revoked (ingest''s)';
