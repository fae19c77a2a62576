#!/bin/sh
# Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d):
# the warehouse database and its owner, next to the Airflow metadata database that
# POSTGRES_DB creates. The schemas (raw, staging, marts, dq) are created by the
# loader, dbt and the checks on first use.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<EOSQL
CREATE ROLE ${ERAFLOW_WAREHOUSE_USER} LOGIN PASSWORD '${ERAFLOW_WAREHOUSE_PASSWORD}';
CREATE DATABASE ${ERAFLOW_WAREHOUSE_DB} OWNER ${ERAFLOW_WAREHOUSE_USER};
EOSQL
