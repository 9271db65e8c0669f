#!/usr/bin/env bash
# `make demo` (after `make up`): feed a realistic month for all 14 fiscal entities through the
# running services, then show the month's report, the status and the console's address (the
# last lines). Arguments go to the feeder, e.g. `make demo DEMO_ARGS="--employers 500 --seed 7"`.
# The feeder publishes as the partners (tax-bureau, finance, hr) and the operator, each with its
# own credentials and rights.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(bash deploy/stack.sh env)"
started=$SECONDS

echo "demo: feeding fee period 2025-03 (declarations, payments, subsidies, annuity backlog)"
.venv/bin/python -m demo.feed \
    --as tax-bureau=<(bash deploy/stack.sh client-config tax-bureau) \
    --as finance=<(bash deploy/stack.sh client-config finance) \
    --as hr=<(bash deploy/stack.sh client-config hr) "$@"
.venv/bin/pension-ops wait-idle --timeout-s 600
echo
.venv/bin/pension-ops report 2025-03
echo
# status exits 3 when something is down or lagging: say so, and still show where to look.
.venv/bin/pension-ops status || echo "demo: status found a problem (listed above)"
echo
# A declaration that went the whole way (registered, paid, credited to annuity accounts, remitted),
# so the suggested trace shows something.
example="$(.venv/bin/python -m demo.feed --example-declaration "$@")"
password_file="$(realpath -m "${PENSION_STATE_DIR:-.state}/secrets/console.password")"
echo "demo: finished in $((SECONDS - started)) s. Try: .venv/bin/pension-ops trace $example,"
echo "      .venv/bin/pension-ops dlq list collection. Stop everything with: make down"
echo "console: http://127.0.0.1:$((${PENSION_SERVICES_PORT_BASE:-8101} + 3))/ (the operators' password: cat $password_file)"
