# pension-streams: the commands people type. Everything installs what it needs itself
# (virtualenv, Kafka jars from Maven Central, PostgreSQL from Debian) and reuses what is there.
#   make demo    start everything and feed a realistic month for all 14 fiscal entities
#   make test    lint, start the stack, run every test, stop what it started
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PYTHON ?= python3
STACK := bash deploy/stack.sh
SERVICES := bash deploy/services.sh
DEMO_ARGS ?=

.PHONY: help venv up down status services-up services-down test test-unit lint demo bench docs \
	browser faults replay-check

help:
	@echo "make demo | test | up | down | status | lint | bench | docs | faults | replay-check"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) \
		|| { apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

# The stack (Kafka, PostgreSQL) and the three services, in the background.
up: venv
	$(STACK) up
	$(SERVICES) up

down:
	$(SERVICES) down
	$(STACK) down

status:
	$(STACK) status
	$(SERVICES) status

# Python, then the documents partners and operators get: AsyncAPI (validated by the AsyncAPI
# parser) and the Prometheus rules (promtool); tools/lint.sh installs those tools when missing.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared services tests demo bench deploy/topics.py deploy/access.py
	bash tools/lint.sh asyncapi
	bash tools/lint.sh prometheus

test-unit: venv
	$(VENV)/bin/pytest tests/unit -q

# Debian's Chromium (and CJK fonts for the screenshots) for the console's browser tests, installed
# with apt when missing and root, like PostgreSQL; the tests never download a browser.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] \
		&& echo "make: installing chromium with apt-get (Debian's package)" \
		&& apt-get update -q >/dev/null \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver \
			fonts-noto-cjk >/dev/null; } \
		|| { echo "make: the browser tests need Debian's chromium:" \
			"sudo apt-get install chromium chromium-driver fonts-noto-cjk" >&2; exit 1; }

test: lint browser
	bash deploy/test.sh

# Every fault of TESTING.md against the three real services (~30 minutes; a printed seed, which
# PENSION_FAULTS_SEED repeats; PENSION_FAULTS=<name part>[,...] runs some). `make test` runs a
# seeded subset of three.
faults: venv
	PENSION_FAULTS=$${PENSION_FAULTS:-all} bash deploy/test.sh -s tests/faults/test_real_services.py

# A month fed through the services, then replayed from offset 0 into empty databases: the same
# events, byte for byte but their `time`, or the first difference and exit 1.
replay-check: venv
	bash deploy/test.sh --replay-check

demo: up
	bash deploy/demo.sh $(DEMO_ARGS)

bench: venv
	bash deploy/bench.sh

docs: venv
	$(VENV)/bin/python -m shared.contracts.export
	bash tools/lint.sh asyncapi
