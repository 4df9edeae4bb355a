# The README's two commands are `make demo` and `make test`; CI runs `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: help demo test lint typecheck unit system-deps services clean dsfr static bench

DSFR_VERSION ?= 1.15.3

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed ## Run the demo: ENT :8000, ÉduConnect :8001, ATEN :8002 (embedded defaults)
	scripts/install-system-deps.sh demo
	$(BIN)/educonnect-bridge demo

test: $(VENV)/.installed node_modules/.installed ## Install what the tests need, then lint, type-check, check the import contracts and run every test
	scripts/install-system-deps.sh test
	scripts/ensure-services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest

lint: $(VENV)/.installed ## ruff, mypy and the import contracts (lint-imports) only
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy . && $(BIN)/lint-imports --no-logo

bench: $(VENV)/.installed ## Benchmarks of issues 7 and 17 (PostgreSQL, Redis, gunicorn; SimpleSAMLphp as the peer; ~13 min); BENCH_ARGS=--record logs the run
	scripts/install-system-deps.sh bench
	scripts/ensure-services.sh
	$(BIN)/python -m bench $(BENCH_ARGS)

system-deps: ## Debian packages the tests need (xmlsec1, slapd, docker-compose, chromium)
	scripts/install-system-deps.sh test

# axe-core for the browser tests (package.json + package-lock.json); the pages need no npm.
node_modules/.installed: package.json package-lock.json
	scripts/install-system-deps.sh test  # npm itself comes from Debian when missing
	npm ci --no-audit --no-fund --silent
	touch $@

dsfr: $(VENV)/.installed ## Refresh the vendored DSFR subset in federation/static/dsfr (npm pack; DSFR_VERSION=1.15.3), then make static
	PYTHON=$(BIN)/python scripts/vendor-dsfr.sh $(DSFR_VERSION)

static: $(VENV)/.installed ## Rebuild federation/static/dist (fingerprinted names, .br and .gz copies) after editing a CSS or JS file
	$(BIN)/python -m federation.static_build

clean: ## Remove the demo state (database, store, metadata) but keep keys
	rm -rf var
