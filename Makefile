# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each builds its own virtual environment from pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
FUNCTION_DIR := functions/optout_relay

.PHONY: help demo test lint typecheck unit validate requirements holidays build bench clean

help:
	@echo "make demo   - run the whole relay locally (moto server + provider simulators), print a summary"
	@echo "make test   - lint, type-check, validate the template and run every test"
	@echo "make build  - sam build of both functions for python3.12 (RUNTIME=python3.11: a local check build, not for deploying)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/optout-relay demo

test: lint unit

lint: $(STAMP)
	$(BIN)/ruff check functions devtools tests bench
	$(BIN)/ruff format --check functions devtools tests bench
	$(BIN)/mypy
	$(BIN)/python -m optout_relay_dev.requirements --check
	$(BIN)/python -m optout_relay_dev.holiday_table --check

unit: $(STAMP)
	$(BIN)/pytest -q

validate: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --template template.yaml

RUNTIME ?= python3.12
# Lambda cannot write __pycache__ (read-only /var/task), so the build ships each function's
# bytecode (the relay's, the deadline watch's), compiled by the runtime's Python and not
# checked against source times (zip keeps those to 2 s only): otherwise every cold start
# compiles the function again.
build: $(STAMP)
	$(BIN)/python -m optout_relay_dev.requirements --check
	SAM_CLI_TELEMETRY=0 $(BIN)/sam build --template template.yaml --parameter-overrides Runtime=$(RUNTIME)
	$(RUNTIME) -m compileall -q --invalidation-mode unchecked-hash .aws-sam/build/WebhookReceiverFunction/webhook_receiver
	$(RUNTIME) -m compileall -q --invalidation-mode unchecked-hash .aws-sam/build/*/optout_relay

bench: $(STAMP)
	$(BIN)/python bench/run.py

requirements: $(STAMP)
	$(BIN)/python -m optout_relay_dev.requirements

holidays: $(STAMP)
	$(BIN)/python -m optout_relay_dev.holiday_table

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
