#!/bin/sh
# Runs once, when the database volume is first initialised (docker-entrypoint-initdb.d): the
# SELECT-only role Grafana connects as (GRAFANA_DB_USER, default grafana_reader, as in
# deploy/grafana/provisioning/datasources). Tables and views that migrations create later (as the
# owner, POSTGRES_USER) are readable through the default privileges.
set -eu
: "${GRAFANA_DB_PASSWORD:?set GRAFANA_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$GRAFANA_DB_PASSWORD" -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" \
    -v reader="${GRAFANA_DB_USER:-grafana_reader}" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'password';
ALTER ROLE :"reader" SET statement_timeout = '30s';
ALTER ROLE :"reader" SET default_transaction_read_only = on;
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
SQL
