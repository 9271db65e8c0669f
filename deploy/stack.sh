#!/usr/bin/env bash
# Local infrastructure of pension-streams, no Docker needed:
#   - Apache Kafka 4.1.2, single node in KRaft mode (broker + controller), from the
#     official jars on Maven Central, run with the machine's Java 17;
#   - PostgreSQL from Debian's packages, a project-local cluster run as a non-root user.
# Both listen on 127.0.0.1 only, and both check who connects (README, "Security model"):
#   - Kafka: SASL/SCRAM-SHA-512 on 127.0.0.1:$KAFKA_PORT (SASL_PLAINTEXT) and on
#     127.0.0.1:$KAFKA_TLS_PORT (SASL_SSL, a CA and broker certificate made here), ACLs
#     from shared/access.py (deploy/access.py), super user `admin` for the broker itself;
#   - PostgreSQL: the owner role `pension` runs migrations; each service logs in as its own
#     role (pension_<service>) with grants on its own schema only.
# Passwords are generated per stack, one file each (mode 600) under $STATE_DIR/secrets.
#
#   deploy/stack.sh up       start what is not running, create the topics (idempotent)
#   deploy/stack.sh down     stop what `up` started (and nothing else)
#   deploy/stack.sh status   say what is up (exit 0 all up, 3 something down)
#   deploy/stack.sh env      print exports: eval "$(deploy/stack.sh env)" (the operator's
#                            Kafka principal and the database owner's DATABASE_URL)
#   deploy/stack.sh client-config PRINCIPAL [--tls]
#                            KEY=value lines of one principal: tax-bureau, finance, hr,
#                            collection, fund_transfer, occupational_annuity (with its
#                            DATABASE_URL), operator, or admin (local tooling only)
#   deploy/stack.sh compose-env   the passwords docker-compose.yml needs, KEY=value
#   deploy/stack.sh topics   create missing topics, list the topics
#   deploy/stack.sh psql     psql on the project database (extra args go to psql)
#   (up also makes the console's password, $PENSION_STATE_DIR/secrets/console.password,
#   and the key signing its sessions, both mode 600: deploy/services.sh passes their paths)
#   deploy/stack.sh crash kafka|postgres   kill -9 the broker / immediate-stop the database
#                            (fault tests); `up` restarts it
#
# Settings (environment):
#   PENSION_STATE_DIR        state (data, logs, pid files); default <repo>/.state
#   PENSION_CACHE_DIR        Kafka jars shared by clones; default ~/.cache/pension-streams
#   KAFKA_PORT=39092 KAFKA_TLS_PORT=39094 KAFKA_CONTROLLER_PORT=39093 PG_PORT=35432
#   KAFKA_SECURITY_PROTOCOL  SASL_SSL: `env` and `client-config` name the TLS listener
#   KAFKA_BOOTSTRAP_SERVERS  use this broker: no Kafka is downloaded or started
#   DATABASE_URL             use this database: no PostgreSQL is started
#   (values naming this stack's own 127.0.0.1 ports, as `env` prints them, are not
#   overrides: a shell that ran eval "$(deploy/stack.sh env)" can still up/down.)
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_DIR="$(dirname "$DEPLOY_DIR")"
STATE_DIR="$(realpath -m "${PENSION_STATE_DIR:-$REPO_DIR/.state}")"
CACHE_DIR="$(realpath -m "${PENSION_CACHE_DIR:-$HOME/.cache/pension-streams}")"

KAFKA_VERSION=4.1.2
KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_PORT="${KAFKA_PORT:-39092}"
KAFKA_TLS_PORT="${KAFKA_TLS_PORT:-39094}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-39093}"
KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_PID_FILE="$KAFKA_DIR/kafka.pid"
KAFKA_CONFIG="$KAFKA_DIR/server.properties"
KAFKA_LOG_DIR="$KAFKA_DIR/logs"
KAFKA_READY_TIMEOUT=90
KAFKA_STOP_TIMEOUT=30
# shellcheck source=deploy/kafka/broker-common.sh
source "$DEPLOY_DIR/kafka/broker-common.sh"
# Written at format time: a data dir without it was formatted before authentication existed.
KAFKA_AUTH_MARKER="$KAFKA_DIR/sasl-scram-sha-512"

SECRETS_DIR="$STATE_DIR/secrets"
KAFKA_SECRETS_DIR="$SECRETS_DIR/kafka" # <principal>.password
PG_SECRETS_DIR="$SECRETS_DIR/postgres" # <role>.password
TLS_DIR="$STATE_DIR/tls"               # ca.pem (public); ca.key, broker.p12 private
TLS_CERT_DAYS=825

PG_PORT="${PG_PORT:-35432}"
PG_DB=pension_streams
PG_ROLE=pension
PG_PASSWORD_FILE="$PG_SECRETS_DIR/$PG_ROLE.password"
PG_LEGACY_PASSWORD_FILE="$STATE_DIR/pg-password" # where a state dir before roles kept it
PG_DATADIR_FILE="$STATE_DIR/pg-datadir"
PG_FALLBACK_ROOT=/var/tmp/pension-streams-pg

STARTED_FILE="$STATE_DIR/started-by-us"
# The operators' console (services/console): its password and the key signing its sessions.
CONSOLE_PASSWORD_FILE="$SECRETS_DIR/console.password"
CONSOLE_SESSION_KEY_FILE="$SECRETS_DIR/console-session.key"
TOPICS_FILE="$DEPLOY_DIR/topics.txt"
VENV_PYTHON="$REPO_DIR/.venv/bin/python"

say() { printf 'stack: %s\n' "$*"; }
warn() { printf 'stack: %s\n' "$*" >&2; }
die() {
    printf 'stack: error: %s\n' "$*" >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# --- bookkeeping of what `up` started --------------------------------------------

started_by_us() { [ -f "$STARTED_FILE" ] && grep -qx "$1" "$STARTED_FILE"; }

mark_started() {
    started_by_us "$1" || echo "$1" >>"$STARTED_FILE"
}

unmark_started() {
    [ -f "$STARTED_FILE" ] || return 0
    local rest
    rest="$(grep -vx "$1" "$STARTED_FILE" || true)"
    if [ -n "$rest" ]; then
        printf '%s\n' "$rest" >"$STARTED_FILE"
    else
        rm -f "$STARTED_FILE"
    fi
}

# One `up`/`down` at a time per state dir; bounded wait.
lock_state() {
    mkdir -p "$STATE_DIR"
    exec 8>"$STATE_DIR/.stack.lock"
    flock -w 300 8 || die "another deploy/stack.sh holds $STATE_DIR/.stack.lock for 300 s"
}

elapsed() { echo "$((SECONDS - ${1:-0})) s"; }

# --- Kafka ---------------------------------------------------------------------

# An override that names this stack's own address (as `env` prints it, so after
# eval "$(deploy/stack.sh env)") is not external: up/down still manage that broker.
kafka_external() {
    local own
    [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || return 1
    for own in "127.0.0.1:$KAFKA_PORT" "localhost:$KAFKA_PORT" "127.0.0.1:$KAFKA_TLS_PORT" \
        "localhost:$KAFKA_TLS_PORT"; do
        [ "$KAFKA_BOOTSTRAP_SERVERS" = "$own" ] && return 1
    done
    return 0
}

# The address the stack's own tooling uses: the SASL_PLAINTEXT listener on loopback.
kafka_bootstrap() {
    if kafka_external; then
        printf '%s' "$KAFKA_BOOTSTRAP_SERVERS"
    else
        printf '127.0.0.1:%s' "$KAFKA_PORT"
    fi
}

# deploy/topics.py and deploy/access.py run with the venv's Python (aiokafka).
require_venv() {
    if ! { [ -x "$VENV_PYTHON" ] && "$VENV_PYTHON" -c 'import aiokafka, shared.kafka_client' 2>/dev/null; }; then
        die "no project virtualenv at $REPO_DIR/.venv: run 'make venv' first (make up does)"
    fi
}

# --- secrets ---------------------------------------------------------------------

# A random password in its own file, readable only by its owner; made once, kept.
ensure_secret() {
    local file="$1"
    mkdir -p "$(dirname "$file")"
    chmod 700 "$SECRETS_DIR" "$(dirname "$file")"
    if [ ! -s "$file" ]; then
        (
            umask 077
            head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file"
        )
    fi
    chmod 600 "$file"
}

kafka_password_file() { echo "$KAFKA_SECRETS_DIR/$1.password"; }

KAFKA_PRINCIPALS=""
ensure_kafka_secrets() {
    [ -n "$KAFKA_PRINCIPALS" ] || KAFKA_PRINCIPALS="$("$VENV_PYTHON" "$DEPLOY_DIR/access.py" principals)"
    local principal
    for principal in admin $KAFKA_PRINCIPALS; do
        ensure_secret "$(kafka_password_file "$principal")"
    done
}

# Run a command as the broker's super user: the password reaches it through the
# environment (readable only by this user), never through an argument.
as_kafka_admin() {
    KAFKA_BOOTSTRAP_SERVERS="$(kafka_bootstrap)" KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT \
        KAFKA_SASL_MECHANISM=SCRAM-SHA-512 KAFKA_SASL_USERNAME=admin \
        KAFKA_SASL_PASSWORD="$(cat "$(kafka_password_file admin)")" KAFKA_SSL_CAFILE="" \
        "$@"
}

# A CA of this stack and a broker certificate for 127.0.0.1/localhost (SASL_SSL listener).
ensure_tls() {
    [ -s "$TLS_DIR/broker.p12" ] && [ -s "$TLS_DIR/ca.pem" ] && return 0
    command -v openssl >/dev/null || die "openssl is needed to make the broker's certificate (apt-get install openssl)"
    say "making a CA and a broker certificate in $TLS_DIR"
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    (
        umask 077
        cd "$TLS_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
            -days "$TLS_CERT_DAYS" -subj "/CN=pension-streams local CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
            2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr \
            -subj "/CN=localhost" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -days "$TLS_CERT_DAYS" -extfile broker.ext -out broker.crt 2>/dev/null
        # A PKCS#12 key store (Java reads it whatever the key's PEM flavour), its password
        # in a file of its own.
        head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >keystore.password
        openssl pkcs12 -export -in broker.crt -inkey broker.key -certfile ca.pem -name broker \
            -passout file:keystore.password -out broker.p12
        rm -f broker.csr broker.ext broker.key ca.srl
    ) || die "making the TLS certificates failed"
    chmod 644 "$TLS_DIR/ca.pem"
}

ensure_java_and_maven() {
    local missing=()
    command -v java >/dev/null || missing+=(default-jre-headless)
    command -v mvn >/dev/null || missing+=(maven)
    [ "${#missing[@]}" -eq 0 ] && return 0
    is_root || die "needs ${missing[*]} (Java 17 and Maven): install them, e.g. sudo apt-get install -y ${missing[*]}"
    say "installing ${missing[*]} with apt-get"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

# Resolve the broker's jars once into the shared cache (marker .complete holds the
# sha256 of the pom it was resolved from; a changed pom resolves again).
ensure_kafka_libs() {
    local pom="$DEPLOY_DIR/kafka/pom.xml" want
    want="$(sha256sum "$pom" | cut -c1-64)"
    if [ -f "$KAFKA_LIBS/.complete" ] && [ "$(cat "$KAFKA_LIBS/.complete")" = "$want" ]; then
        return 0
    fi
    ensure_java_and_maven
    mkdir -p "$CACHE_DIR"
    exec 9>"$CACHE_DIR/.kafka-$KAFKA_VERSION.lock"
    flock -w 900 9 || die "another clone is resolving the Kafka jars for 900 s ($CACHE_DIR)"
    if [ -f "$KAFKA_LIBS/.complete" ] && [ "$(cat "$KAFKA_LIBS/.complete")" = "$want" ]; then
        exec 9>&-
        return 0
    fi
    local start=$SECONDS
    say "resolving Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS (once; a few minutes)"
    rm -rf "$KAFKA_LIBS"
    mkdir -p "$KAFKA_LIBS"
    if ! mvn -B -q -Dstyle.color=never -f "$pom" \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS"; then
        die "could not resolve the Kafka jars with Maven (output above)"
    fi
    [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || die "no kafka_2.13-$KAFKA_VERSION.jar in $KAFKA_LIBS after resolving"
    echo "$want" >"$KAFKA_LIBS/.complete"
    say "resolved $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $(elapsed "$start")"
    exec 9>&-
}

# A short-lived JVM running a Kafka tool, quiet logging, tuned for startup time.
kafka_tool() {
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/tools-log4j2.properties" \
        -cp "$KAFKA_LIBS/*" "$@"
}

kafka_pid() {
    [ -f "$KAFKA_PID_FILE" ] || return 1
    local pid
    pid="$(cat "$KAFKA_PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    # Alive and really our broker (not a recycled pid).
    kill -0 "$pid" 2>/dev/null || return 1
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *"kafka.Kafka $KAFKA_CONFIG"* ]] || return 1
    echo "$pid"
}

clean_stale_kafka_pid() {
    if [ -f "$KAFKA_PID_FILE" ] && ! kafka_pid >/dev/null; then
        say "removing stale Kafka pid file (pid $(cat "$KAFKA_PID_FILE") is gone)"
        rm -f "$KAFKA_PID_FILE"
        unmark_started kafka
    fi
}

kafka_running() { kafka_pid >/dev/null && port_open "$KAFKA_PORT"; }

write_kafka_config() {
    mkdir -p "$KAFKA_DIR/data" "$KAFKA_LOG_DIR"
    local admin_password
    admin_password="$(cat "$(kafka_password_file admin)")"
    # Mode 600: the file holds the broker's own credentials.
    (umask 077 && : >"$KAFKA_CONFIG")
    chmod 600 "$KAFKA_CONFIG"
    cat >"$KAFKA_CONFIG" <<EOF
# Written by deploy/stack.sh on every start: edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=CLIENT://127.0.0.1:$KAFKA_PORT,TLS://127.0.0.1:$KAFKA_TLS_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=CLIENT://127.0.0.1:$KAFKA_PORT,TLS://127.0.0.1:$KAFKA_TLS_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,TLS:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
log.dirs=$KAFKA_DIR/data

listener.name.tls.ssl.keystore.type=PKCS12
listener.name.tls.ssl.keystore.location=$TLS_DIR/broker.p12
listener.name.tls.ssl.keystore.password=$(cat "$TLS_DIR/keystore.password")
listener.name.tls.ssl.client.auth=none
$(broker_common_properties "$admin_password" client tls)

# Lean: 2 cores.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2
background.threads=4
EOF
}

format_kafka_storage() {
    [ -f "$KAFKA_DIR/data/meta.properties" ] && return 0
    local cluster_id
    if [ -s "$KAFKA_DIR/cluster-id" ]; then
        cluster_id="$(cat "$KAFKA_DIR/cluster-id")"
    else
        cluster_id="$(kafka_tool kafka.tools.StorageTool random-uuid | tail -n 1)"
        echo "$cluster_id" >"$KAFKA_DIR/cluster-id"
    fi
    say "formatting Kafka storage (cluster id $cluster_id) with the SCRAM user admin"
    # KIP-900: the broker's own SCRAM user must exist before the first start. StorageTool
    # takes it only as an argument, visible for the second the tool runs to this OS user.
    kafka_tool kafka.tools.StorageTool format --standalone \
        --cluster-id "$cluster_id" --config "$KAFKA_CONFIG" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$(kafka_password_file admin)")]" \
        >"$KAFKA_LOG_DIR/format.log" 2>&1 ||
        {
            cat "$KAFKA_LOG_DIR/format.log" >&2
            die "formatting Kafka storage failed"
        }
    date -u +%FT%TZ >"$KAFKA_AUTH_MARKER"
}

# A state dir from before authentication holds a PLAINTEXT cluster without the admin user:
# it cannot be converted in place (the broker's own SCRAM user is bootstrapped at format).
refuse_plaintext_state() {
    if [ -f "$KAFKA_DIR/data/meta.properties" ] && [ ! -f "$KAFKA_AUTH_MARKER" ]; then
        die "$KAFKA_DIR holds a Kafka formatted before authentication (PLAINTEXT, no users); its data cannot be kept: run 'make down && rm -rf $STATE_DIR' (loses the local topics and database), then 'make up'"
    fi
    if kafka_pid >/dev/null && ! grep -q '^sasl.enabled.mechanisms=' "$KAFKA_CONFIG" 2>/dev/null; then
        die "the running Kafka (pid $(kafka_pid)) listens without authentication: run 'make down && rm -rf $STATE_DIR', then 'make up'"
    fi
}

kafka_log_tail() {
    if grep -qE '^\[[^]]*\] (ERROR|FATAL) ' "$KAFKA_LOG_DIR/server.log" 2>/dev/null; then
        warn "errors in $KAFKA_LOG_DIR/server.log:"
        grep -E '^\[[^]]*\] (ERROR|FATAL) ' "$KAFKA_LOG_DIR/server.log" | tail -n 10 >&2
    fi
    warn "last lines of $KAFKA_LOG_DIR/server.log:"
    tail -n 30 "$KAFKA_LOG_DIR/server.log" >&2 2>/dev/null || true
    if [ -s "$KAFKA_LOG_DIR/kafka.out" ]; then
        warn "last lines of $KAFKA_LOG_DIR/kafka.out:"
        tail -n 20 "$KAFKA_LOG_DIR/kafka.out" >&2
    fi
}

# Launch the broker in the background (returns at once; wait_kafka_ready waits).
launch_kafka() {
    port_open "$KAFKA_PORT" &&
        die "127.0.0.1:$KAFKA_PORT is in use by a process this stack did not start; set KAFKA_PORT, or KAFKA_BOOTSTRAP_SERVERS to use that broker"
    port_open "$KAFKA_CONTROLLER_PORT" &&
        die "127.0.0.1:$KAFKA_CONTROLLER_PORT is in use by another process; set KAFKA_CONTROLLER_PORT"
    port_open "$KAFKA_TLS_PORT" &&
        die "127.0.0.1:$KAFKA_TLS_PORT is in use by another process; set KAFKA_TLS_PORT"
    ensure_kafka_libs
    ensure_kafka_secrets
    ensure_tls
    write_kafka_config
    format_kafka_storage
    say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (log $KAFKA_LOG_DIR/server.log)"
    # setsid: its own session, so a Ctrl-C in the caller's terminal does not reach it;
    # every fd redirected, so callers capturing our output do not wait for the broker;
    # the lock fds closed, or the broker would hold the state lock for its lifetime.
    (
        cd "$KAFKA_DIR"
        exec 8>&- 9>&-
        exec setsid nohup java -Xms256m -Xmx512m \
            -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
            -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
            -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/log4j2.properties" \
            -Dkafka.logs.dir="$KAFKA_LOG_DIR" \
            -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONFIG" \
            </dev/null >>"$KAFKA_LOG_DIR/kafka.out" 2>&1
    ) &
    echo $! >"$KAFKA_PID_FILE"
    mark_started kafka
    UP_STARTED="$UP_STARTED kafka"
}

kill_kafka() {
    local pid="$1" deadline
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        warn "Kafka (pid $pid) still running after ${KAFKA_STOP_TIMEOUT} s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    rm -f "$KAFKA_PID_FILE"
}

# Ready when the broker answers an admin request (bounded: KAFKA_READY_TIMEOUT s).
wait_kafka_ready() {
    local start=$SECONDS deadline=$((SECONDS + KAFKA_READY_TIMEOUT)) pid
    pid="$(cat "$KAFKA_PID_FILE")"
    local fail_reason=""
    while :; do
        if ! kafka_pid >/dev/null; then
            fail_reason="Kafka (pid $pid) exited during startup"
            break
        fi
        if port_open "$KAFKA_PORT"; then
            local left=$((deadline - SECONDS))
            [ "$left" -lt 1 ] && left=1
            if as_kafka_admin "$VENV_PYTHON" "$DEPLOY_DIR/topics.py" wait --timeout "$left" \
                >/dev/null 2>&1; then
                break
            fi
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail_reason="Kafka did not answer on 127.0.0.1:$KAFKA_PORT within ${KAFKA_READY_TIMEOUT} s"
            break
        fi
        sleep 0.5
    done
    if [ -n "$fail_reason" ]; then
        warn "$fail_reason"
        kafka_log_tail
        if kill -0 "$pid" 2>/dev/null; then
            warn "stopping the unready Kafka (pid $pid)"
            kill_kafka "$pid"
        fi
        rm -f "$KAFKA_PID_FILE"
        unmark_started kafka
        die "Kafka failed to start"
    fi
    say "Kafka ready on 127.0.0.1:$KAFKA_PORT after $(elapsed "$start")"
}

# Is the external broker answering? (bounded; as the caller's KAFKA_* principal)
check_external_kafka() {
    "$VENV_PYTHON" "$DEPLOY_DIR/topics.py" wait --timeout 30
}

# The principal that creates topics: the local super user, or on an external broker the
# caller's own KAFKA_* principal (users and ACLs there are the deployment's business).
as_topic_admin() {
    if kafka_external; then "$@"; else as_kafka_admin "$@"; fi
}

# Create the missing topics of topics.txt (deploy/topics.py, one Python process).
ensure_topics() {
    as_topic_admin "$VENV_PYTHON" "$DEPLOY_DIR/topics.py" ensure --file "$TOPICS_FILE" --timeout 60 ||
        die "creating topics on $(kafka_bootstrap) failed"
}

# SCRAM users and ACLs of shared/access.py on the local broker (idempotent).
ensure_access() {
    kafka_external && return 0
    ensure_kafka_secrets
    as_kafka_admin "$VENV_PYTHON" "$DEPLOY_DIR/access.py" apply --secrets "$KAFKA_SECRETS_DIR" \
        --timeout 60 || die "applying users and ACLs on $(kafka_bootstrap) failed"
}

stop_kafka() {
    if ! started_by_us kafka; then
        if kafka_pid >/dev/null; then
            say "Kafka is running but was not started by 'up' of this state dir: left alone"
        fi
        return 0
    fi
    local pid
    if pid="$(kafka_pid)"; then
        say "stopping Kafka (pid $pid)"
        kill_kafka "$pid"
    else
        rm -f "$KAFKA_PID_FILE"
    fi
    unmark_started kafka
}

# --- PostgreSQL ----------------------------------------------------------------

# Any role's URL of this stack's own database (as `env` and `client-config` print them).
pg_external() {
    [ -n "${DATABASE_URL:-}" ] &&
        [[ "$DATABASE_URL" != "postgresql://"*"@127.0.0.1:$PG_PORT/$PG_DB" ]]
}

PG_BIN=""
find_pg_bin() {
    local initdb
    # The newest installed major version (an unmatched glob stays literal: -x fails).
    initdb="$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"
    [ -x "$initdb" ] && PG_BIN="$(dirname "$initdb")"
    [ -n "$PG_BIN" ]
}

ensure_pg_installed() {
    find_pg_bin && return 0
    is_root || die "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); install them as root: sudo apt-get install -y postgresql"
    say "installing PostgreSQL with apt-get (Debian's postgresql package)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
    find_pg_bin || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb exists"
}

# The OS user that runs the cluster: PostgreSQL refuses to run as root.
PG_USER=""
resolve_pg_user() {
    if ! is_root; then
        PG_USER="$(id -un)"
    elif id -u postgres >/dev/null 2>&1; then
        PG_USER=postgres
    else
        if ! id -u pension-pg >/dev/null 2>&1; then
            say "creating system user pension-pg to run PostgreSQL"
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin pension-pg
        fi
        PG_USER=pension-pg
    fi
}

# Run a command as the cluster's OS user, from / (the caller's cwd may be unreadable
# to that user, e.g. a mktemp -d clone), without our lock fds (a postmaster started
# from here would otherwise hold the state lock for its lifetime).
as_pg() {
    if is_root; then
        (cd / && exec 8>&- 9>&- && exec runuser -u "$PG_USER" -- "$@")
    else
        (cd / && exec 8>&- 9>&- && exec "$@")
    fi
}

# PG_DATA: the cluster's data dir; PG_HOME: its parent, owned by PG_USER, also the
# unix socket dir and the log's place.
PG_DATA=""
PG_HOME=""
load_pg_datadir() {
    [ -s "$PG_DATADIR_FILE" ] || return 1
    PG_DATA="$(cat "$PG_DATADIR_FILE")"
    PG_HOME="$(dirname "$PG_DATA")"
}

# Unix socket paths are limited to 107 bytes.
socket_fits() { [ "${#1}" -le 100 ]; }

choose_pg_datadir() {
    if load_pg_datadir; then
        if [ ! -d "$PG_HOME" ]; then # e.g. /var/tmp was cleaned: a new cluster
            mkdir -p "$PG_HOME"
            is_root && chown "$PG_USER:" "$PG_HOME"
            chmod 700 "$PG_HOME"
        fi
        return 0
    fi
    local candidate="$STATE_DIR/pg"
    mkdir -p "$candidate"
    if is_root; then
        chown "$PG_USER:" "$candidate"
        chmod 700 "$candidate"
    fi
    if as_pg test -x "$candidate" && as_pg test -w "$candidate" &&
        socket_fits "$candidate/.s.PGSQL.$PG_PORT"; then
        PG_HOME="$candidate"
    else
        rmdir "$candidate" 2>/dev/null || true
        local hash
        hash="$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12)"
        PG_HOME="$PG_FALLBACK_ROOT/$hash"
        say "$PG_USER cannot use $candidate: PostgreSQL data goes to $PG_HOME/data"
        mkdir -p "$PG_FALLBACK_ROOT"
        chmod 755 "$PG_FALLBACK_ROOT"
        mkdir -p "$PG_HOME"
        is_root && chown "$PG_USER:" "$PG_HOME"
        chmod 700 "$PG_HOME"
        echo "$STATE_DIR" >"$PG_HOME/state-dir" 2>/dev/null || true
    fi
    PG_DATA="$PG_HOME/data"
    echo "$PG_DATA" >"$PG_DATADIR_FILE"
}

pg_password_file() { echo "$PG_SECRETS_DIR/$1.password"; }

# The owner's password, kept from a state dir made before the secrets dir existed.
pg_password() {
    if [ ! -s "$PG_PASSWORD_FILE" ] && [ -s "$PG_LEGACY_PASSWORD_FILE" ]; then
        mkdir -p "$PG_SECRETS_DIR"
        mv "$PG_LEGACY_PASSWORD_FILE" "$PG_PASSWORD_FILE"
    fi
    ensure_secret "$PG_PASSWORD_FILE"
    cat "$PG_PASSWORD_FILE"
}

pg_postmaster_pid() {
    [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ] || return 1
    local pid
    pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = postgres ] || return 1
    echo "$pid"
}

pg_running() {
    load_pg_datadir || return 1
    pg_postmaster_pid >/dev/null && port_open "$PG_PORT"
}

pg_log() { echo "$PG_HOME/postgresql.log"; }

write_pg_config() {
    # Our settings live in their own file, rewritten on every start (port, socket dir);
    # postgresql.conf includes it.
    local conf="$PG_DATA/pension-streams.conf" hba="$PG_DATA/pg_hba.conf"
    cat >"$conf" <<EOF
# Written by deploy/stack.sh on every start: edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_HOME'
max_connections = 100
password_encryption = 'scram-sha-256'
fsync = on
synchronous_commit = on
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    cat >"$hba" <<EOF
# Written by deploy/stack.sh. Unix socket: the OS user running the cluster (peer);
# TCP on 127.0.0.1: password (scram-sha-256). Nothing else.
local   all   all                 peer
host    all   all   127.0.0.1/32  scram-sha-256
EOF
    grep -qxF "include_if_exists = 'pension-streams.conf'" "$PG_DATA/postgresql.conf" ||
        echo "include_if_exists = 'pension-streams.conf'" >>"$PG_DATA/postgresql.conf"
    if is_root; then
        chown "$PG_USER:" "$conf" "$hba"
    fi
    chmod 600 "$conf" "$hba"
}

init_pg_cluster() {
    [ -f "$PG_DATA/PG_VERSION" ] && return 0
    say "initialising a PostgreSQL cluster in $PG_DATA (as OS user $PG_USER)"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" --encoding=UTF8 --locale=C \
        --auth-local=peer --auth-host=scram-sha-256 >"$PG_HOME/initdb.log" 2>&1 || {
        cat "$PG_HOME/initdb.log" >&2
        die "initdb failed"
    }
}

# Limits of the services' roles, role-level so they hold whatever a client sets up (the
# pool sets the same per session from Settings; these are the floor for any connection).
PG_RUNTIME_STATEMENT_TIMEOUT=60s
PG_RUNTIME_IDLE_IN_TRANSACTION_TIMEOUT=120s
PG_RUNTIME_LOCK_TIMEOUT=10s

# The owner (migrations) and one login role per service (shared/access.py database_role);
# what each service role may touch is granted by its migration step (shared/db.py).
setup_pg_role_and_db() {
    local password roles role sql
    password="$(pg_password)"
    roles="$("$VENV_PYTHON" "$DEPLOY_DIR/access.py" roles)"
    sql=""
    for role in $roles; do
        ensure_secret "$(pg_password_file "$role")"
        sql+="SELECT 'CREATE ROLE $role' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role')\\gexec
ALTER ROLE $role WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION PASSWORD '$(cat "$(pg_password_file "$role")")';
ALTER ROLE $role SET statement_timeout = '$PG_RUNTIME_STATEMENT_TIMEOUT';
ALTER ROLE $role SET idle_in_transaction_session_timeout = '$PG_RUNTIME_IDLE_IN_TRANSACTION_TIMEOUT';
ALTER ROLE $role SET lock_timeout = '$PG_RUNTIME_LOCK_TIMEOUT';
GRANT CONNECT ON DATABASE $PG_DB TO $role;
"
    done
    # Over the unix socket as the cluster's superuser (peer); passwords via stdin, not argv.
    as_pg "$PG_BIN/psql" -h "$PG_HOME" -p "$PG_PORT" -d postgres -X -q -v ON_ERROR_STOP=1 <<EOF >/dev/null
SELECT 'CREATE ROLE $PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE')\gexec
ALTER ROLE $PG_ROLE WITH LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION PASSWORD '$password';
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')\gexec
-- Only the roles named here connect, and nobody makes temporary tables.
REVOKE ALL ON DATABASE $PG_DB FROM PUBLIC;
$sql
\c $PG_DB
REVOKE ALL ON SCHEMA public FROM PUBLIC;
EOF
}

# A port that answers while our cluster is not running belongs to someone else.
check_pg_port_free() {
    if port_open "$PG_PORT" && ! { load_pg_datadir && pg_postmaster_pid >/dev/null; }; then
        die "127.0.0.1:$PG_PORT is in use by a process this stack did not start; set PG_PORT, or DATABASE_URL to use that database"
    fi
}

start_pg() {
    ensure_pg_installed
    resolve_pg_user
    check_pg_port_free
    choose_pg_datadir
    init_pg_cluster
    write_pg_config
    if ! pg_running; then
        local start=$SECONDS
        say "starting PostgreSQL on 127.0.0.1:$PG_PORT (data $PG_DATA, log $(pg_log))"
        if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 60 -l "$(pg_log)" start >/dev/null; then
            warn "last lines of $(pg_log):"
            tail -n 30 "$(pg_log)" >&2 || true
            die "PostgreSQL failed to start"
        fi
        mark_started postgres
        UP_STARTED="$UP_STARTED postgres"
        say "PostgreSQL ready on 127.0.0.1:$PG_PORT after $(elapsed "$start")"
    fi
    setup_pg_role_and_db
}

# Roles of a cluster that was already running (an older state dir gains the service roles).
refresh_pg_roles() {
    find_pg_bin || die "PostgreSQL binaries not found"
    resolve_pg_user
    load_pg_datadir || die "no PostgreSQL data dir recorded"
    setup_pg_role_and_db
}

check_external_pg() {
    local psql_bin
    psql_bin="$(command -v psql || true)"
    find_pg_bin && psql_bin="$PG_BIN/psql"
    if [ -z "$psql_bin" ]; then
        say "no psql here: not checking DATABASE_URL"
        return 0
    fi
    PGCONNECT_TIMEOUT=10 "$psql_bin" "$DATABASE_URL" -X -q -A -t -c 'select 1' >/dev/null ||
        die "the database at DATABASE_URL does not answer"
}

stop_pg() {
    if ! started_by_us postgres; then
        if load_pg_datadir && pg_postmaster_pid >/dev/null; then
            say "PostgreSQL is running but was not started by 'up' of this state dir: left alone"
        fi
        return 0
    fi
    if load_pg_datadir && pg_postmaster_pid >/dev/null; then
        find_pg_bin || die "PostgreSQL binaries are gone: cannot stop the cluster in $PG_DATA"
        resolve_pg_user
        say "stopping PostgreSQL (data $PG_DATA)"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
            die "pg_ctl stop failed (log $(pg_log))"
    fi
    unmark_started postgres
}

database_url() {
    if pg_external; then
        printf '%s' "$DATABASE_URL"
        return 0
    fi
    role_database_url "$PG_ROLE"
}

role_database_url() {
    local file
    file="$(pg_password_file "$1")"
    [ -s "$file" ] || return 1
    printf 'postgresql://%s:%s@127.0.0.1:%s/%s' "$1" "$(cat "$file")" "$PG_PORT" "$PG_DB"
}

pg_address() {
    if pg_external; then
        printf 'DATABASE_URL'
    else
        printf '127.0.0.1:%s' "$PG_PORT"
    fi
}

# --- subcommands ---------------------------------------------------------------

# What this `up` started, so a failing `up` stops it again instead of leaving half a
# stack behind.
UP_STARTED=""
rollback_failed_up() {
    local rc=$?
    [ "$rc" -eq 0 ] && return 0
    set +e
    case " $UP_STARTED " in *" kafka "*)
        local pid
        if pid="$(kafka_pid)"; then
            warn "up failed: stopping the Kafka it started (pid $pid)"
            kill_kafka "$pid"
        fi
        rm -f "$KAFKA_PID_FILE"
        unmark_started kafka
        ;;
    esac
    case " $UP_STARTED " in *" postgres "*)
        if pg_postmaster_pid >/dev/null; then
            warn "up failed: stopping the PostgreSQL it started"
            as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
        fi
        unmark_started postgres
        ;;
    esac
    exit "$rc"
}

cmd_up() {
    local start=$SECONDS
    lock_state
    clean_stale_kafka_pid
    require_venv
    kafka_external || refuse_plaintext_state
    ensure_secret "$CONSOLE_PASSWORD_FILE"
    ensure_secret "$CONSOLE_SESSION_KEY_FILE"
    trap rollback_failed_up EXIT

    local kafka_up=no pg_up=no
    if kafka_external; then
        check_external_kafka || die "Kafka at KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS does not answer"
        kafka_up=yes
    elif kafka_running; then
        kafka_up=yes
    fi
    if pg_external; then
        check_external_pg
        pg_up=yes
    elif pg_running; then
        pg_up=yes
    fi

    if [ "$kafka_up" = yes ] && [ "$pg_up" = yes ]; then
        say "already up (kafka $(kafka_bootstrap), postgres $(pg_address))"
        ensure_topics
        ensure_access
        pg_external || refresh_pg_roles
        return 0
    fi

    # Fail before starting anything when a port is taken by someone else.
    [ "$pg_up" = no ] && check_pg_port_free
    if [ "$kafka_up" = no ] && ! kafka_pid >/dev/null; then
        port_open "$KAFKA_PORT" &&
            die "127.0.0.1:$KAFKA_PORT is in use by a process this stack did not start; set KAFKA_PORT, or KAFKA_BOOTSTRAP_SERVERS to use that broker"
        port_open "$KAFKA_CONTROLLER_PORT" &&
            die "127.0.0.1:$KAFKA_CONTROLLER_PORT is in use by another process; set KAFKA_CONTROLLER_PORT"
    fi

    # The JVM starts in the background while PostgreSQL comes up.
    local kafka_launched=no
    if [ "$kafka_up" = no ]; then
        if kafka_pid >/dev/null; then
            say "Kafka (pid $(kafka_pid)) is starting"
        else
            launch_kafka
        fi
        kafka_launched=yes
    fi
    [ "$pg_up" = no ] && start_pg
    [ "$kafka_launched" = yes ] && wait_kafka_ready
    ensure_topics
    ensure_access
    [ "$pg_up" = yes ] && ! pg_external && refresh_pg_roles
    say "up in $(elapsed "$start") (kafka $(kafka_bootstrap), postgres $(pg_address)); eval \"\$(deploy/stack.sh env)\" for the settings"
}

cmd_down() {
    lock_state
    clean_stale_kafka_pid
    stop_kafka
    stop_pg
    say "down (stopped what 'up' started; data kept in $STATE_DIR)"
}

cmd_status() {
    local all_up=0
    if kafka_external; then
        if (check_external_kafka) >/dev/null 2>&1; then
            say "kafka: up (external, KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS)"
        else
            say "kafka: DOWN (external KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS does not answer)"
            all_up=3
        fi
    elif kafka_running; then
        local by=""
        started_by_us kafka && by=", started by up"
        say "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $(kafka_pid)$by; log $KAFKA_LOG_DIR/server.log)"
    else
        if [ -f "$KAFKA_PID_FILE" ] && ! kafka_pid >/dev/null; then
            say "kafka: down (stale pid file $KAFKA_PID_FILE)"
        elif kafka_pid >/dev/null; then
            say "kafka: starting (pid $(kafka_pid)), not answering on 127.0.0.1:$KAFKA_PORT yet"
        else
            say "kafka: down"
        fi
        all_up=3
    fi
    if pg_external; then
        if (check_external_pg) >/dev/null 2>&1; then
            say "postgres: up (external, DATABASE_URL)"
        else
            say "postgres: DOWN (external DATABASE_URL does not answer)"
            all_up=3
        fi
    elif pg_running; then
        local by=""
        started_by_us postgres && by=", started by up"
        say "postgres: up on 127.0.0.1:$PG_PORT (pid $(pg_postmaster_pid)$by; data $PG_DATA)"
    else
        say "postgres: down"
        all_up=3
    fi
    return "$all_up"
}

# Exports for a shell: the operator's Kafka principal and the owner's DATABASE_URL.
cmd_env() {
    local url
    url="$(database_url)" || die "no PostgreSQL password yet ($PG_PASSWORD_FILE): run deploy/stack.sh up first"
    client_config operator | sed 's/^/export /'
    printf 'export DATABASE_URL=%q\n' "$url"
}

# KEY=value lines of one principal; the protocol follows KAFKA_SECURITY_PROTOCOL (or --tls).
client_config() {
    local principal="$1" protocol="${KAFKA_SECURITY_PROTOCOL:-SASL_PLAINTEXT}" file url
    [ "${2:-}" = --tls ] && protocol=SASL_SSL
    file="$(kafka_password_file "$principal")"
    [ -s "$file" ] || die "no principal '$principal' here ($file is missing): run deploy/stack.sh up first, or name one of: $(find "$KAFKA_SECRETS_DIR" -name '*.password' -printf '%f ' 2>/dev/null | sed 's/\.password//g')"
    case "$protocol" in
    SASL_PLAINTEXT) printf 'KAFKA_BOOTSTRAP_SERVERS=%q\n' "$(kafka_bootstrap)" ;;
    SASL_SSL)
        kafka_external && die "--tls names this stack's TLS listener; with an external broker set KAFKA_* yourself"
        printf 'KAFKA_BOOTSTRAP_SERVERS=%q\n' "127.0.0.1:$KAFKA_TLS_PORT"
        ;;
    *) die "KAFKA_SECURITY_PROTOCOL must be SASL_PLAINTEXT or SASL_SSL, got $protocol" ;;
    esac
    printf 'KAFKA_SECURITY_PROTOCOL=%q\n' "$protocol"
    printf 'KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n'
    printf 'KAFKA_SASL_USERNAME=%q\n' "$principal"
    printf 'KAFKA_SASL_PASSWORD=%q\n' "$(cat "$file")"
    [ "$protocol" = SASL_SSL ] && printf 'KAFKA_SSL_CAFILE=%q\n' "$TLS_DIR/ca.pem"
    # A service principal comes with its own database role.
    if ! pg_external && url="$(role_database_url "pension_$principal")"; then
        printf 'DATABASE_URL=%q\n' "$url"
    fi
    return 0
}

# Passwords for docker-compose.yml, from (or added to) this stack's secrets: KEY=value lines.
cmd_compose_env() {
    require_venv
    ensure_kafka_secrets
    local principal role name
    for principal in admin $KAFKA_PRINCIPALS; do
        name="$(printf '%s' "$principal" | tr 'a-z-' 'A-Z_')"
        printf 'KAFKA_PASSWORD_%s=%s\n' "$name" "$(cat "$(kafka_password_file "$principal")")"
    done
    printf 'PG_PASSWORD_OWNER=%s\n' "$(pg_password)"
    for role in $("$VENV_PYTHON" "$DEPLOY_DIR/access.py" roles); do
        ensure_secret "$(pg_password_file "$role")"
        name="$(printf '%s' "${role#pension_}" | tr '[:lower:]' '[:upper:]')"
        printf 'PG_PASSWORD_%s=%s\n' "$name" "$(cat "$(pg_password_file "$role")")"
    done
    ensure_secret "$PG_SECRETS_DIR/postgres.password"
    printf 'POSTGRES_PASSWORD=%s\n' "$(cat "$PG_SECRETS_DIR/postgres.password")"
}

cmd_client_config() {
    [ $# -ge 1 ] || die "usage: stack.sh client-config PRINCIPAL [--tls]"
    client_config "$@"
}

cmd_topics() {
    if kafka_external; then
        check_external_kafka || die "Kafka at $KAFKA_BOOTSTRAP_SERVERS does not answer"
    else
        kafka_running || die "Kafka is not running: deploy/stack.sh up"
    fi
    require_venv
    ensure_topics
    as_topic_admin "$VENV_PYTHON" "$DEPLOY_DIR/topics.py" list --timeout 30
}

cmd_psql() {
    local url psql_bin
    url="$(database_url)" || die "no PostgreSQL password yet: run deploy/stack.sh up first"
    psql_bin="$(command -v psql || true)"
    find_pg_bin && psql_bin="$PG_BIN/psql"
    [ -n "$psql_bin" ] || die "no psql found"
    exec "$psql_bin" "$url" "$@"
}

# Fault injection for tests/faults (TESTING.md): die the hard way; `up` brings it back.
cmd_crash() {
    case "${1:-}" in
    kafka)
        started_by_us kafka || die "kafka was not started by 'up' here: not crashing it"
        local pid
        pid="$(kafka_pid)" || die "kafka is not running"
        kill -KILL "$pid"
        say "kafka (pid $pid) killed with SIGKILL"
        ;;
    postgres)
        started_by_us postgres || die "postgres was not started by 'up' here: not crashing it"
        load_pg_datadir || die "no PostgreSQL data dir recorded"
        find_pg_bin || die "PostgreSQL binaries not found"
        resolve_pg_user
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 60 stop >/dev/null
        say "postgres stopped with -m immediate"
        ;;
    *) die "usage: stack.sh crash kafka|postgres" ;;
    esac
}

usage() {
    sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env "$@" ;;
    client-config) cmd_client_config "$@" ;;
    compose-env) cmd_compose_env "$@" ;;
    topics) cmd_topics "$@" ;;
    psql) cmd_psql "$@" ;;
    crash) cmd_crash "$@" ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
