"""Shared fixtures: a real emulator on loopback and settings that write only under tmp_path."""

from __future__ import annotations

import os
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
