#!/usr/bin/env bash
# The three services and the operators' console as supervised background processes on this
# machine, against the local stack.
#   deploy/services.sh up [NAME...]    start those not running (each under its supervisor,
#                               which restarts it when it exits); wait until each answers /readyz
#   deploy/services.sh down [NAME...]  stop each supervisor: it SIGTERMs its service (the batch
#                               in hand finishes) and does not restart it
#   (NAME: collection, fund_transfer, occupational_annuity or console; none: all of them. A
#   fault test starts one with a crash point in its environment, or stops one to move its
#   consumer group's offsets.)
#   deploy/services.sh status   pid, /readyz and restarts of each (exit 3 when one is down)
# A service exits 70 when it stopped itself (a broken invariant, or transient errors that
# outlasted its retry budget); the supervisor logs why, waits (1 s doubling to 60 s, back to
# 1 s after a run of 10 minutes) and starts it again. Its restarts show in `make status` and,
# through /readyz, in `pension-ops status`.
# Local runs load the labelled sample rule set of DOMAIN.md as well (RULE_SET=local).
# Each service first has its schema migrated by the database owner (`python -m
# services.<name> migrate`), then runs as its own Kafka principal and database role
# (`deploy/stack.sh client-config <name>`), which its supervisor passes on.
# PENSION_SERVICES_DIR (pid and log files, default .state/services) and
# PENSION_SERVICES_PORT_BASE (default 8101) let a test run a second set beside this one
# (with NAMESPACE set, on topics and schemas of its own).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STATE_DIR="$(realpath -m "${PENSION_SERVICES_DIR:-${PENSION_STATE_DIR:-.state}/services}")"
PORT_BASE="${PENSION_SERVICES_PORT_BASE:-8101}"
SERVICES=(collection:"$PORT_BASE" fund_transfer:"$((PORT_BASE + 1))"
    occupational_annuity:"$((PORT_BASE + 2))" console:"$((PORT_BASE + 3))")
# The console reads its password and session key from the files deploy/stack.sh up makes.
SECRETS_DIR="$(realpath -m "${PENSION_STATE_DIR:-.state}/secrets")"
export CONSOLE_PASSWORD_FILE="${CONSOLE_PASSWORD_FILE:-$SECRETS_DIR/console.password}"
export CONSOLE_SESSION_KEY_FILE="${CONSOLE_SESSION_KEY_FILE:-$SECRETS_DIR/console-session.key}"
# ... and shows the health of the services of this set.
export PENSION_COLLECTION_URL="http://127.0.0.1:$PORT_BASE"
export PENSION_FUND_TRANSFER_URL="http://127.0.0.1:$((PORT_BASE + 1))"
export PENSION_OCCUPATIONAL_ANNUITY_URL="http://127.0.0.1:$((PORT_BASE + 2))"
READY_TIMEOUT_S=90
STOP_TIMEOUT_S=40
BACKOFF_S_MAX=60
STABLE_RUN_S=600

say() { printf 'services: %s\n' "$*"; }

# The supervisor's pid (the service runs as its child).
pid_of() {
    local pid_file="$STATE_DIR/$1.pid"
    [ -f "$pid_file" ] || return 1
    local pid
    pid="$(cat "$pid_file")"
    if kill -0 "$pid" 2>/dev/null; then echo "$pid"; else rm -f "$pid_file"; return 1; fi
}

ready() { curl -fsS --max-time 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }

why_exited() {
    case "$1" in
    0) echo "stopped" ;;
    70) echo "stopped itself: broken invariant or retries exhausted, see its log" ;;
    1 | 2) echo "failed to start: configuration or start-up error, see its log" ;;
    *) if [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"; else echo "failed"; fi ;;
    esac
}

# Runs in the background (`services.sh supervise NAME PORT`): the service, restarted when it exits.
supervise() {
    local name="$1" port="$2" restarts=0 last_rc="" backoff_s=1 child="" stopping=false
    local log="$STATE_DIR/$name.log"
    trap 'stopping=true; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null || true' TERM INT
    while :; do
        local started=$SECONDS rc=0
        env RULE_SET="${RULE_SET:-local}" HTTP_PORT="$port" PENSION_RESTARTS="$restarts" \
            ${last_rc:+PENSION_LAST_EXIT_CODE="$last_rc"} \
            .venv/bin/python -m "services.$name" >>"$log" 2>&1 &
        child=$!
        # `wait` returns early when a trapped signal arrives: wait again until the child is gone.
        while :; do
            wait "$child" && rc=0 || rc=$?
            kill -0 "$child" 2>/dev/null || break
        done
        child=""
        [ "$stopping" = true ] && break
        restarts=$((restarts + 1))
        last_rc=$rc
        [ $((SECONDS - started)) -ge "$STABLE_RUN_S" ] && backoff_s=1
        printf 'restarts=%s last_exit=%s at=%s\n' "$restarts" "$rc" "$(date -u +%FT%TZ)" \
            >"$STATE_DIR/$name.restarts"
        printf '{"event": "supervisor.restart", "service": "%s", "exit_code": %s, "why": "%s", "restart": %s, "delay_s": %s}\n' \
            "$name" "$rc" "$(why_exited "$rc")" "$restarts" "$backoff_s" >>"$log"
        sleep "$backoff_s" &
        wait $! || true
        [ "$stopping" = true ] && break
        backoff_s=$((backoff_s * 2 > BACKOFF_S_MAX ? BACKOFF_S_MAX : backoff_s * 2))
    done
}

# Replace the current (sub)shell with a command that has exactly one principal's settings,
# none inherited from the caller; call it with & or inside ( ).
exec_as_principal() {
    local principal="$1" config
    shift
    config="$(bash deploy/stack.sh client-config "$principal")" || exit 1
    unset KAFKA_BOOTSTRAP_SERVERS KAFKA_SECURITY_PROTOCOL KAFKA_SASL_MECHANISM \
        KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD KAFKA_SSL_CAFILE DATABASE_URL
    set -a
    eval "$config"
    set +a
    exec "$@"
}

start_one() {
    local name="$1" port="$2"
    if pid_of "$name" >/dev/null; then
        say "$name already running (supervisor pid $(pid_of "$name"))"
        return
    fi
    mkdir -p "$STATE_DIR"
    rm -f "$STATE_DIR/$name.restarts"
    # DATABASE_URL here is the owner's (deploy/stack.sh env, see cmd_up).
    if ! .venv/bin/python -m "services.$name" migrate >>"$STATE_DIR/$name.log" 2>&1; then
        say "migrating $name failed; last log lines:"; tail -n 20 "$STATE_DIR/$name.log" >&2
        exit 1
    fi
    exec_as_principal "$name" \
        nohup bash deploy/services.sh supervise "$name" "$port" </dev/null >/dev/null 2>&1 &
    echo $! >"$STATE_DIR/$name.pid"
    say "$name started under its supervisor (pid $!, log $STATE_DIR/$name.log)"
}

wait_ready() {
    local name="$1" port="$2" deadline=$((SECONDS + READY_TIMEOUT_S))
    until ready "$port"; do
        if ! pid_of "$name" >/dev/null; then
            say "$name's supervisor exited; last log lines:"; tail -n 20 "$STATE_DIR/$name.log" >&2; exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "$name not ready after ${READY_TIMEOUT_S} s"; tail -n 20 "$STATE_DIR/$name.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    say "$name ready on http://127.0.0.1:$port"
}

stop_one() {
    local name="$1" pid
    pid="$(pid_of "$name")" || { say "$name not running"; return; }
    kill -TERM "$pid"
    local deadline=$((SECONDS + STOP_TIMEOUT_S))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "$name did not stop in ${STOP_TIMEOUT_S} s; killing it and its supervisor"
            pkill -KILL -P "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$STATE_DIR/$name.pid"
    say "$name stopped"
}

restarts_of() {
    if [ -f "$STATE_DIR/$1.restarts" ]; then cat "$STATE_DIR/$1.restarts"; else echo "restarts=0"; fi
}

# The entries of SERVICES named in the arguments (all of them without arguments).
SELECTED=()
select_services() {
    SELECTED=()
    local entry name found
    [ $# -eq 0 ] && { SELECTED=("${SERVICES[@]}"); return; }
    for name in "$@"; do
        found=false
        for entry in "${SERVICES[@]}"; do
            [ "${entry%%:*}" = "$name" ] && { SELECTED+=("$entry"); found=true; }
        done
        [ "$found" = true ] || { say "no service named $name"; exit 2; }
    done
}

cmd_up() {
    select_services "$@"
    eval "$(bash deploy/stack.sh env)"
    for entry in "${SELECTED[@]}"; do start_one "${entry%%:*}" "${entry##*:}"; done
    for entry in "${SELECTED[@]}"; do wait_ready "${entry%%:*}" "${entry##*:}"; done
}

cmd_down() {
    select_services "$@"
    for entry in "${SELECTED[@]}"; do stop_one "${entry%%:*}"; done
}

cmd_status() {
    local down=0
    for entry in "${SERVICES[@]}"; do
        local name="${entry%%:*}" port="${entry##*:}"
        if pid_of "$name" >/dev/null && ready "$port"; then
            say "$name: ready (supervisor pid $(pid_of "$name"), http://127.0.0.1:$port; $(restarts_of "$name"))"
        elif pid_of "$name" >/dev/null; then
            say "$name: NOT READY (supervisor pid $(pid_of "$name"); $(restarts_of "$name"))"
            down=3
        else
            say "$name: down"; down=3
        fi
    done
    return "$down"
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    down) shift; cmd_down "$@" ;;
    status) cmd_status ;;
    supervise) supervise "$2" "$3" ;;
    *) echo "usage: deploy/services.sh up|down [NAME...] | status" >&2; exit 2 ;;
esac
