# The README's two commands are `make demo` and `make test`; CI runs `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: help demo test lint typecheck unit system-deps services clean

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

test: $(VENV)/.installed ## Install what the tests need, then lint, type-check and run every test
	scripts/install-system-deps.sh test
	scripts/ensure-services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed ## ruff and mypy only
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy .

system-deps: ## Debian packages the tests need (xmlsec1, slapd, docker-compose, chromium)
	scripts/install-system-deps.sh test

clean: ## Remove the demo state (database, store, metadata) but keep keys
	rm -rf var
