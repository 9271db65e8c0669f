#!/usr/bin/env bash
# `make lint`'s checks of the files that are not Python, each with its own project's tool:
#   tools/lint.sh asyncapi     docs/asyncapi/*.json with the AsyncAPI parser (@asyncapi/parser,
#                              pinned by tools/asyncapi/package-lock.json; `npm ci` installs it
#                              into tools/asyncapi/node_modules the first time, then it is reused)
#   tools/lint.sh prometheus   deploy/prometheus/: promtool check config and rules, and the rule
#                              unit tests (promtool test rules); the PromQL of every panel of
#                              deploy/grafana/pension-streams.json, parsed by promtool too.
#                              promtool comes from Debian's prometheus package (apt-get)
# Installing needs root (apt-get) only for what the machine lacks: Node.js/npm or promtool.
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_DIR="$(dirname "$TOOLS_DIR")"
ASYNCAPI_DIR="$TOOLS_DIR/asyncapi"
PROMETHEUS_DIR="$REPO_DIR/deploy/prometheus"
DASHBOARD="$REPO_DIR/deploy/grafana/pension-streams.json"

say() { printf 'lint: %s\n' "$*"; }
die() {
    printf 'lint: error: %s\n' "$*" >&2
    exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
    is_root || die "$1 is not installed; install it as root: sudo apt-get install -y --no-install-recommends ${*:2}"
    say "installing ${*:2} with apt-get (for $1)"
    apt-get update -q >/dev/null
    # No recommends: promtool needs none of the prometheus package's exporters.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${@:2}" >/dev/null
}

lint_asyncapi() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        apt_install "Node.js and npm" nodejs npm
    fi
    local stamp="$ASYNCAPI_DIR/node_modules/.installed"
    if [ ! -e "$stamp" ] || [ "$ASYNCAPI_DIR/package-lock.json" -nt "$stamp" ]; then
        say "installing the AsyncAPI parser into tools/asyncapi/node_modules ($(node --version))"
        # --ignore-scripts: nothing the parser needs runs at install time (one of its
        # dependencies would otherwise send install telemetry). --prefer-offline: a clone on
        # a machine that installed it once needs no network.
        (cd "$ASYNCAPI_DIR" &&
            npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)
        touch "$stamp"
    fi
    (cd "$REPO_DIR" && node tools/asyncapi/validate.mjs docs/asyncapi/*.json)
}

lint_prometheus() {
    command -v promtool >/dev/null || apt_install promtool prometheus
    promtool check rules "$PROMETHEUS_DIR/alerts.yml"
    # The example scrape configuration, and that it loads the rules from where they are.
    promtool check config "$PROMETHEUS_DIR/prometheus.yml"
    promtool test rules "$PROMETHEUS_DIR/alerts.test.yml"
    lint_dashboard_queries
}

# Grafana is not installed here; promtool parses the panels' queries as recording rules, with
# the dashboard variables given plain values, so a PromQL typo fails lint.
lint_dashboard_queries() {
    local rules
    rules="$(mktemp --suffix=.json)"
    # shellcheck disable=SC2064  # expand now: the local is gone when the trap runs
    trap "rm -f '$rules'" RETURN
    python3 - "$DASHBOARD" >"$rules" <<'PY'
import json, sys

dashboard = json.load(open(sys.argv[1], encoding="utf-8"))
panels = [p for top in dashboard["panels"] for p in (top, *top.get("panels", ()))]
exprs = [t["expr"] for p in panels for t in p.get("targets", ())]
values = {"$__rate_interval": "5m", "$service": ".*", "$fiscal_entity_code": ".*"}
rules = []
for number, expr in enumerate(exprs, start=1):
    for name, value in values.items():
        expr = expr.replace(name, value)
    rules.append({"record": f"dashboard:query_{number}", "expr": expr})
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, sys.stdout)
PY
    say "checking the PromQL of the dashboard's panels"
    promtool check rules "$rules" >/dev/null ||
        die "a query of deploy/grafana/pension-streams.json does not parse (query_N is its Nth)"
}

case "${1:-}" in
asyncapi) lint_asyncapi ;;
prometheus) lint_prometheus ;;
*) die "usage: tools/lint.sh asyncapi|prometheus" ;;
esac
