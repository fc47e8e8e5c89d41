#!/usr/bin/env bash
# A local PostgreSQL for MLflow's backend store and the Prefect server's database
# (docs/operations/postgresql.md). Idempotent: run it as often as you like.
#
#   bash scripts/postgres.sh
#
# 1. installs Debian's `postgresql` package if PostgreSQL is missing (apt-get; root or sudo);
# 2. starts a cluster listening on 127.0.0.1 only (pg_ctlcluster), unless one already answers there;
# 3. creates a user and a database for MLflow and another pair for Prefect;
# 4. prints the two URIs.
#
# Settings (environment): NAS_PG_PORT (5432), NAS_PG_MLFLOW_PASSWORD (nas_mlflow),
# NAS_PG_PREFECT_PASSWORD (nas_prefect). The default passwords suit a server bound to
# 127.0.0.1 on your own machine; set your own anywhere else.
set -euo pipefail

PORT="${NAS_PG_PORT:-5432}"
HOST=127.0.0.1
MLFLOW_PASSWORD="${NAS_PG_MLFLOW_PASSWORD:-nas_mlflow}"
PREFECT_PASSWORD="${NAS_PG_PREFECT_PASSWORD:-nas_prefect}"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
    AS_POSTGRES=(runuser -u postgres --)
else
    SUDO=(sudo)
    AS_POSTGRES=(sudo -u postgres)
fi

say() { echo "postgres.sh: $*" >&2; }

installed() { command -v pg_ctlcluster >/dev/null 2>&1 && command -v psql >/dev/null 2>&1; }

if ! installed; then
    say "installing Debian's postgresql package"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
fi

if pg_isready -q -h "$HOST" -p "$PORT"; then
    say "a PostgreSQL server already answers on $HOST:$PORT"
else
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        say "pg_ctlcluster not found (not Debian?): start PostgreSQL on $HOST:$PORT yourself, then rerun this script"
        exit 1
    fi
    # The newest installed major version, and its cluster "main" (created if the package did not).
    VERSION="$(ls /usr/lib/postgresql | sort -n | tail -1)"
    if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$VERSION main"; then
        say "creating cluster $VERSION/main"
        "${SUDO[@]}" pg_createcluster "$VERSION" main --port "$PORT" >/dev/null
    fi
    # Our settings in conf.d (Debian's postgresql.conf includes it), so the main file stays untouched.
    printf "listen_addresses = '%s'\nport = %s\n" "$HOST" "$PORT" |
        "${SUDO[@]}" tee "/etc/postgresql/$VERSION/main/conf.d/nas-pipeline.conf" >/dev/null
    "${SUDO[@]}" install -d -o postgres -g postgres -m 2775 /var/run/postgresql  # missing in containers
    say "starting cluster $VERSION/main on $HOST:$PORT"
    "${SUDO[@]}" pg_ctlcluster "$VERSION" main start || "${SUDO[@]}" pg_ctlcluster "$VERSION" main restart
    for _ in $(seq 1 30); do
        pg_isready -q -h "$HOST" -p "$PORT" && break
        sleep 1
    done
    pg_isready -h "$HOST" -p "$PORT" >/dev/null || { say "PostgreSQL did not start on $HOST:$PORT"; exit 1; }
fi

# One user and one database each; re-running only resets the passwords to the configured ones.
ensure_user_and_database() {
    local name="$1" password="$2"
    "${AS_POSTGRES[@]}" psql -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres \
        -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'name', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
SQL
}
ensure_user_and_database nas_mlflow "$MLFLOW_PASSWORD"
ensure_user_and_database nas_prefect "$PREFECT_PASSWORD"

cat <<EOF
PostgreSQL is ready on $HOST:$PORT.
MLflow backend store (params.yaml tracking.uri, or mlflow ui --backend-store-uri):
  postgresql+psycopg2://nas_mlflow:$MLFLOW_PASSWORD@$HOST:$PORT/nas_mlflow
Prefect server database (PREFECT_SERVER_DATABASE_CONNECTION_URL, then prefect server start):
  postgresql+asyncpg://nas_prefect:$PREFECT_PASSWORD@$HOST:$PORT/nas_prefect
EOF
