#!/usr/bin/env bash
# `make test`: start the stack if it is not running, run every test against the real
# Kafka and PostgreSQL, then stop only what this run started. Arguments go to pytest;
# `--replay-check` runs make replay-check's tests/faults/replay.py instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if bash deploy/stack.sh status >/dev/null 2>&1; then
    started_here=false
else
    started_here=true
fi
stop_stack() {
    if [ "$started_here" = true ]; then
        bash deploy/stack.sh down || true
    fi
}
trap stop_stack EXIT

bash deploy/stack.sh up
eval "$(bash deploy/stack.sh env)"
started=$SECONDS
if [ "${1:-}" = --replay-check ]; then
    shift
    .venv/bin/python -m tests.faults.replay "$@"
    exit 0
fi
.venv/bin/pytest -q -p no:cacheprovider "$@"
echo "test: pytest took $((SECONDS - started)) s"
