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
$(VENV)/.synced: pyproject.toml uv.lock
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }
	@$(UV) sync --frozen --quiet
	@touch $@

.PHONY: help setup ingest transform report test lint format bench prices docs emulator clean crashtest browser

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(VENV)/.synced ## Create .venv and install the locked dependencies

ingest: $(VENV)/.synced ## Ingest every batch job, build the marts (no TOGETHER_API_KEY: bundled demo)
	@$(RUN) ingest

transform: $(VENV)/.synced ## Run the dbt build alone against the last ingest
	@$(RUN) transform

report: $(VENV)/.synced ## Write the spend report, one HTML page that opens from disk: data/report.html (demo: data/demo-report.html)
	@$(RUN) report

test: lint browser ## Run lint, type checks and the test suite
	@$(VENV)/bin/pytest -q

# Debian's chromium renders the docs site in a test; installed here when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser: ## Install Debian's chromium (the docs render test uses it) when missing
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the docs render test"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.synced ## Lint Python (ruff, mypy --strict) and SQL (sqlfluff, dbt templater)
	@$(VENV)/bin/ruff check pipelines tests
	@$(VENV)/bin/ruff format --check pipelines tests
	@$(VENV)/bin/mypy
	@# sqlfluff compiles the project with dbt, which needs a database: a scratch one.
	@cd dbt_project && BATCHLEDGER_DBT_DB=$(abspath $(VENV))/sqlfluff-scratch.duckdb \
		../$(VENV)/bin/sqlfluff lint models data-tests --nocolor --disable-progress-bar

format: $(VENV)/.synced ## Format the code
	@$(VENV)/bin/ruff check --fix pipelines tests
	@$(VENV)/bin/ruff format pipelines tests

crashtest: $(VENV)/.synced ## SIGKILL `batchledger ingest` 20+ times at random points; rerun; compare with a clean run
	@CRASHTEST_KILLS=$${CRASHTEST_KILLS:-20} $(VENV)/bin/pytest -q -p no:cacheprovider tests/hostile/test_crash.py

bench: $(VENV)/.synced ## End-to-end scale benchmark: parse, cold/no-op/new-job ingest, full refresh (BENCH_LINES, BENCH_CASES)
	@$(VENV)/bin/python -m batchledger.bench

prices: $(VENV)/.synced ## Refresh serverless rows in prices/ from genai-prices (appends dated rows)
	@$(RUN) prices refresh

docs: $(VENV)/.synced ## Write the dbt docs site as one file that opens from disk: dbt_project/target/static_index.html
	@$(RUN) docs

emulator: $(VENV)/.synced ## Run the Together-compatible emulator on a free loopback port
	@$(RUN) emulator --port 0

clean: ## Remove the virtual environment and build output (keeps data/)
	rm -rf $(VENV) dbt_project/target dbt_project/logs
