#!/usr/bin/env bash
# `make bench`: the collection pipeline against a raw baseline loop, on the real stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/stack.sh up
eval "$(bash deploy/stack.sh env)"
export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL
.venv/bin/python -m bench.pipeline "$@"
