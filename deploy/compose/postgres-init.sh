#!/usr/bin/env bash
# First start of the compose database (docker-entrypoint-initdb.d, as the superuser): the owner
# role `pension` that runs migrations and one login role per service, as deploy/stack.sh makes
# them (shared/access.py database_role; grants come with each migration, shared/db.py).
set -euo pipefail
role_sql() {
    local role="$1" password="$2"
    cat <<SQL
CREATE ROLE $role LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION PASSWORD '$password';
ALTER ROLE $role SET statement_timeout = '60s';
ALTER ROLE $role SET idle_in_transaction_session_timeout = '120s';
ALTER ROLE $role SET lock_timeout = '10s';
GRANT CONNECT ON DATABASE pension_streams TO $role;
SQL
}
{
    echo "CREATE ROLE pension LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION PASSWORD '${PG_PASSWORD_OWNER:?}';"
    echo "CREATE DATABASE pension_streams OWNER pension;"
    echo "REVOKE ALL ON DATABASE pension_streams FROM PUBLIC;"
    role_sql pension_collection "${PG_PASSWORD_COLLECTION:?}"
    role_sql pension_fund_transfer "${PG_PASSWORD_FUND_TRANSFER:?}"
    role_sql pension_occupational_annuity "${PG_PASSWORD_OCCUPATIONAL_ANNUITY:?}"
    echo '\c pension_streams'
    echo "REVOKE ALL ON SCHEMA public FROM PUBLIC;"
} | psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -q
