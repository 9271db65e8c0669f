#!/usr/bin/env bash
# `make bench`: what the worst records the contract allows cost to read and check (in-process),
# then the collection pipeline against a raw baseline loop, on the real stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/python -m bench.hostile
echo
bash deploy/stack.sh up
eval "$(bash deploy/stack.sh env)"
.venv/bin/python -m bench.pipeline "$@"
