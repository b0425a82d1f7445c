"""Shared fixtures: a real emulator on loopback and settings that write only under tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchledger.emulator import Emulator, demo_scenario
from batchledger.settings import Settings

# A recognisable key: tests grep every artefact for it.
TEST_API_KEY = "tgk-test-SECRET-7c1d3f0e9b8a"

# No telemetry from dlt or dbt during tests.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


# Session fixtures that build a warehouse (a dbt build each), and the test files that use them.
# `make test` runs on two xdist workers; each group of files below runs whole on one worker, so
# each warehouse is built once per run, not once per worker. (xdist's own --dist loadgroup
# renames node ids, which pytest 9.2 no longer honours; hence this scheduler.)
SHARED_WAREHOUSES = ("demo_db", "warehouse", "flow")
SHARED_WAREHOUSE_FILES = {
    # demo_db and warehouse: test_budgets_and_lineage.py uses both, so they are one group.
    **dict.fromkeys(
        (
            "tests/warehouse/test_budgets_and_lineage.py",
            "tests/warehouse/test_dedicated.py",
            "tests/warehouse/test_demo_marts.py",
            "tests/warehouse/test_docs_site.py",
            "tests/warehouse/test_focus_export.py",
            "tests/warehouse/test_invoice_reconciliation.py",
            "tests/warehouse/test_marts.py",
            "tests/warehouse/test_old_clients.py",
            "tests/warehouse/test_parquet_marts.py",
            "tests/warehouse/test_queries.py",
            "tests/warehouse/test_spend_report.py",
            "tests/warehouse/test_test_scope.py",
            "tests/ops/test_jobs.py",
        ),
        "demo_db+warehouse",
    ),
    "tests/ops/test_end_to_end.py": "flow",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: runs a dbt build or a CLI process; `make test-fast` leaves it out"
    )


# optionalhook: with xdist off (`-p no:xdist`), pytest would reject the hook as unknown.
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Each file group above is one unit of work; every other test is a unit of its own."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedWarehouseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED_WAREHOUSE_FILES.get(nodeid.split("::", 1)[0], nodeid)

    return SharedWarehouseScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        shared = [name for name in SHARED_WAREHOUSES if name in getattr(item, "fixturenames", ())]
        if not shared:
            continue
        item.add_marker(pytest.mark.slow)
        path = item.nodeid.split("::", 1)[0]
        if path not in SHARED_WAREHOUSE_FILES:
            # Else the scheduler could send it to the other worker, which would build it again.
            raise pytest.UsageError(f"{path} uses {shared[0]}: add it to SHARED_WAREHOUSE_FILES")
    # Slow tests first, so no worker starts a long one when the other is nearly done.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def shared_dbt_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every warehouse a test builds, CLI children included, shares one dbt cache (the parse of
    the project, and which versions of it passed their unit tests), as the warehouses of one
    data folder do: each would otherwise parse the project anew. Under xdist, each worker's
    temp folder sits in the run's own folder, which both workers share."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    os.environ["BATCHLEDGER_DBT_CACHE_DIR"] = str(root / "dbt-cache")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # time_scale 0: the virtual clock moves only when a test advances it.
    with Emulator(scenario=demo_scenario(), api_key=TEST_API_KEY, time_scale=0.0) as emu:
        yield emu


def make_settings(tmp_path: Path, base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "api_key": TEST_API_KEY,
        "base_url": base_url,
        "db_path": tmp_path / "data" / "warehouse.duckdb",
        "landing_dir": tmp_path / "data" / "landing",
        "store_prompts": False,
        "store_completions": False,
        "download_concurrency": 3,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, emulator: Emulator) -> Settings:
    return make_settings(tmp_path, emulator.base_url)


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
    # It says so first, before the download bar: no key, the bundled emulator, the demo file.
    assert ingest.stdout.startswith("No TOGETHER_API_KEY set: running on the bundled Together")
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
