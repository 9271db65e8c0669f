#!/usr/bin/env bash
# `make lint`'s checks of the files that are not Python, each with its own project's tool:
#   tools/lint.sh asyncapi     docs/asyncapi/*.json with the AsyncAPI parser (@asyncapi/parser,
#                              pinned by tools/asyncapi/package-lock.json; `npm ci` installs it
#                              into tools/asyncapi/node_modules the first time, then it is reused)
# Installing needs root (apt-get) only for what the machine lacks: Node.js and npm.
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_DIR="$(dirname "$TOOLS_DIR")"
ASYNCAPI_DIR="$TOOLS_DIR/asyncapi"

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

case "${1:-}" in
asyncapi) lint_asyncapi ;;
*) die "usage: tools/lint.sh asyncapi" ;;
esac
