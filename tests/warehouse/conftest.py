"""Build the dbt project once per test session against the raw fixture, in a temp dir."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from batchledger.paths import DBT_PROJECT_DIR, PRICES_DIR
from batchledger.paths import PROJECT_ROOT as REPO_ROOT
from batchledger.transform import run_dbt

from .raw_fixture import build_raw_fixture

__all__ = ["DBT_PROJECT_DIR", "PRICE_CSV", "REPO_ROOT", "BuiltWarehouse", "DbtRun"]

PRICE_CSV = PRICES_DIR / "model_prices.csv"


@dataclass(frozen=True)
class DbtRun:
    success: bool
    # What failed, for assertion messages (the child's own log is under `<tmp_dir>/logs`).
    output: str
    run_results: dict[str, Any]


@dataclass(frozen=True)
class BuiltWarehouse:
    db_path: Path
    tmp_dir: Path
    build: DbtRun

    def dbt(self, *args: str) -> DbtRun:
        return run_dbt_in(self.db_path, self.tmp_dir, *args)


def shared_dbt_cache_dir() -> Path:
    """The session's dbt cache (tests/conftest.py, shared_dbt_cache)."""
    return Path(os.environ["BATCHLEDGER_DBT_CACHE_DIR"])


def run_dbt_in(db_path: Path, tmp_dir: Path, *args: str) -> DbtRun:
    """dbt as the ingest runs it (batchledger.transform.run_dbt), with target and logs in
    `tmp_dir`: the same folder for every command on one warehouse, so dbt parses only once."""
    outcome = run_dbt(db_path, args, artifacts_dir=tmp_dir, cache_dir=shared_dbt_cache_dir())
    results_path = tmp_dir / "target" / "run_results.json"
    run_results = json.loads(results_path.read_text()) if results_path.exists() else {}
    return DbtRun(outcome.success, "\n".join(outcome.failures), run_results)


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    tmp_dir = tmp_path_factory.mktemp("warehouse")
    db_path = build_raw_fixture(tmp_dir / "warehouse.duckdb")
    build = run_dbt_in(db_path, tmp_dir, "build")
    assert build.success, build.output[-4000:]
    return BuiltWarehouse(db_path, tmp_dir, build)


@pytest.fixture
def con(warehouse: BuiltWarehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(warehouse.db_path), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def demo_con(demo_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(demo_db), read_only=True)
    try:
        yield connection
    finally:
        connection.close()
