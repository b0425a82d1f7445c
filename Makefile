# batchledger: `make ingest` and `make test` are all a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
RUN := $(VENV)/bin/batchledger
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

# The stamp is rebuilt whenever the lock or the project metadata changes.
# --compile-bytecode: uv, unlike pip, installs no .pyc, and where PYTHONDONTWRITEBYTECODE is set
# (this machine) Python never caches one, so every dbt child and CLI process compiled dbt and
# dlt again: 5-7 s of each start, once per dbt build.
$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }
	@$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

.PHONY: help setup ingest transform report test test-fast lint format bench prices docs emulator clean crashtest browser

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# One-time installs the tests need (chromium, the DuckDB 1.x clients) happen here, not in a test.
setup: $(VENV)/.installed browser ## Create .venv, install the locked dependencies and the test tools
	@$(VENV)/bin/python -m tests.warehouse.duckdb_clients

ingest: $(VENV)/.installed ## Ingest every batch job, build the marts (no TOGETHER_API_KEY: bundled demo)
	@$(RUN) ingest

transform: $(VENV)/.installed ## Run the dbt build alone against the last ingest
	@$(RUN) transform

report: $(VENV)/.installed ## Write the spend report, one HTML page that opens from disk: data/report.html (demo: data/demo-report.html)
	@$(RUN) report

# -n 2: both cores; tests sharing a session warehouse run on one worker (tests/conftest.py).
PYTEST := $(VENV)/bin/pytest -q -n 2

test: lint browser ## Run lint, type checks and the test suite, then name the 10 slowest tests
	@$(PYTEST) --durations=10

test-fast: $(VENV)/.installed ## The edit loop: ruff, the import contract, and the tests that build no warehouse
	@$(VENV)/bin/ruff check pipelines tests
	@$(VENV)/bin/lint-imports --no-cache --no-logo
	@$(PYTEST) -m "not slow"

# Debian's chromium renders the docs site in a test; installed here when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser: ## Install Debian's chromium (the docs render test uses it) when missing
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the docs render test"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.installed ## Lint Python (ruff, mypy --strict, the import contract) and SQL (sqlfluff)
	@$(VENV)/bin/ruff check pipelines tests
	@$(VENV)/bin/ruff format --check pipelines tests
	@$(VENV)/bin/lint-imports --no-cache --no-logo
	@# mypy and sqlfluff are one core each: side by side they take the time of the slower one.
	@# sqlfluff compiles the project with dbt, which needs a database: a scratch one.
	@$(VENV)/bin/mypy & mypy=$$!; \
	( cd dbt_project && BATCHLEDGER_DBT_DB=$(abspath $(VENV))/sqlfluff-scratch.duckdb \
		../$(VENV)/bin/sqlfluff lint models data-tests --nocolor --disable-progress-bar ); \
	sql=$$?; wait $$mypy || exit 1; exit $$sql

format: $(VENV)/.installed ## Format the code
	@$(VENV)/bin/ruff check --fix pipelines tests
	@$(VENV)/bin/ruff format pipelines tests

crashtest: $(VENV)/.installed ## SIGKILL `batchledger ingest` 20+ times at random points; rerun; compare with a clean run
	@CRASHTEST_KILLS=$${CRASHTEST_KILLS:-20} $(VENV)/bin/pytest -q -p no:cacheprovider tests/hostile/test_crash.py

bench: $(VENV)/.installed ## End-to-end scale benchmark: parse, cold/no-op/new-job ingest, full refresh (BENCH_LINES, BENCH_CASES)
	@$(VENV)/bin/python -m batchledger.bench

prices: $(VENV)/.installed ## Refresh serverless rows in prices/ from genai-prices (appends dated rows)
	@$(RUN) prices refresh

docs: $(VENV)/.installed ## Write the dbt docs site as one file that opens from disk: dbt_project/target/static_index.html
	@$(RUN) docs

emulator: $(VENV)/.installed ## Run the Together-compatible emulator on a free loopback port
	@$(RUN) emulator --port 0

clean: ## Remove the virtual environment and build output (keeps data/)
	rm -rf $(VENV) dbt_project/target dbt_project/logs
