#!/usr/bin/env bash
# The three services as background processes on this machine, against the local stack.
#   deploy/services.sh up       start those not running; wait until each answers /readyz
#   deploy/services.sh down     SIGTERM each (graceful: the batch in hand finishes), then wait
#   deploy/services.sh status   pid and /readyz of each
# Local runs load the labelled sample rule set of DOMAIN.md as well (RULE_SET=local).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STATE_DIR="$(realpath -m "${PENSION_STATE_DIR:-.state}")/services"
SERVICES=(collection:8101 fund_transfer:8102 occupational_annuity:8103)
READY_TIMEOUT_S=90
STOP_TIMEOUT_S=30

say() { printf 'services: %s\n' "$*"; }

pid_of() {
    local pid_file="$STATE_DIR/$1.pid"
    [ -f "$pid_file" ] || return 1
    local pid
    pid="$(cat "$pid_file")"
    if kill -0 "$pid" 2>/dev/null; then echo "$pid"; else rm -f "$pid_file"; return 1; fi
}

ready() { curl -fsS --max-time 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }

start_one() {
    local name="$1" port="$2"
    if pid_of "$name" >/dev/null; then
        say "$name already running (pid $(pid_of "$name"))"
        return
    fi
    mkdir -p "$STATE_DIR"
    RULE_SET="${RULE_SET:-local}" HTTP_PORT="$port" \
        nohup .venv/bin/python -m "services.$name" >>"$STATE_DIR/$name.log" 2>&1 &
    echo $! >"$STATE_DIR/$name.pid"
    say "$name started (pid $!, log $STATE_DIR/$name.log)"
}

wait_ready() {
    local name="$1" port="$2" deadline=$((SECONDS + READY_TIMEOUT_S))
    until ready "$port"; do
        if ! pid_of "$name" >/dev/null; then
            say "$name exited; last log lines:"; tail -n 20 "$STATE_DIR/$name.log" >&2; exit 1
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
            say "$name did not stop in ${STOP_TIMEOUT_S} s; killing"; kill -KILL "$pid"; break
        fi
        sleep 0.2
    done
    rm -f "$STATE_DIR/$name.pid"
    say "$name stopped"
}

cmd_up() {
    eval "$(bash deploy/stack.sh env)"
    export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL
    for entry in "${SERVICES[@]}"; do start_one "${entry%%:*}" "${entry##*:}"; done
    for entry in "${SERVICES[@]}"; do wait_ready "${entry%%:*}" "${entry##*:}"; done
}

cmd_down() {
    for entry in "${SERVICES[@]}"; do stop_one "${entry%%:*}"; done
}

cmd_status() {
    local down=0
    for entry in "${SERVICES[@]}"; do
        local name="${entry%%:*}" port="${entry##*:}"
        if pid_of "$name" >/dev/null && ready "$port"; then
            say "$name: ready (pid $(pid_of "$name"), http://127.0.0.1:$port)"
        else
            say "$name: down"; down=3
        fi
    done
    return "$down"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: deploy/services.sh up|down|status" >&2; exit 2 ;;
esac
