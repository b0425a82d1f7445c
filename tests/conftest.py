"""Shared fixtures: a real emulator on loopback and settings that write only under tmp_path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchledger.emulator import Emulator, demo_scenario
from batchledger.settings import Settings

# A recognisable key: tests grep every artefact for it.
TEST_API_KEY = "tgk-test-SECRET-7c1d3f0e9b8a"

# No telemetry from dlt or dbt during tests.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


# Session fixtures that build a warehouse (a dbt build each), and the tests that share one: under
# xdist (`make test` runs -n 2 --dist loadgroup) each group runs on one worker, so each warehouse
# is built once per run, not once per worker.
SHARED_WAREHOUSES = ("demo_db", "warehouse", "flow")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: runs a dbt build or a CLI process; `make test-fast` leaves it out"
    )


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        shared = [name for name in SHARED_WAREHOUSES if name in getattr(item, "fixturenames", ())]
        if shared:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group(shared[0]))


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
