"""Build the dbt project once per test session against the raw fixture, in a temp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`batchledger ingest` exactly as `make ingest` runs it on a fresh clone with no key."""
    tmp_dir = tmp_path_factory.mktemp("demo")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"TOGETHER_API_KEY", "TOGETHER_BASE_URL", "BATCHLEDGER_DB"}
    }
    ingest = subprocess.run(
        [str(Path(sys.executable).with_name("batchledger")), "ingest"],
        cwd=tmp_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stdout[-3000:] + ingest.stderr[-3000:]
    assert "DEMO" in ingest.stdout and "UNPRICED MODELS" in ingest.stdout
    # It ends with a one-line hint to see the spend (make report), and does not write it.
    assert (
        ingest.stdout.rstrip().splitlines()[-1].startswith("See the spend as a page: make report")
    )
    assert not (tmp_dir / "data" / "demo-report.html").exists()
    # The summary names the test that warned, with the query for its rows.
    assert "its rows: select * from audit.assert_all_items_priced" in ingest.stdout
    run_results = tmp_dir / "data" / ".work" / "demo" / "dbt" / "target" / "run_results.json"
    results = json.loads(run_results.read_text())["results"]
    # Every model, seed and test passes; the one deliberate exception is the unpriced warning.
    # (exposures report "no-op": they document, they do not build)
    assert {r["status"] for r in results} <= {"success", "pass", "warn", "no-op"}
    warned = [r["unique_id"] for r in results if r["status"] == "warn"]
    assert warned == ["test.batchledger.assert_all_items_priced"]
    return tmp_dir / "data" / "demo.duckdb"


@pytest.fixture
def demo_con(demo_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(demo_db), read_only=True)
    try:
        yield connection
    finally:
        connection.close()
