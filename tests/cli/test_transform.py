"""`batchledger transform` as finance runs it after editing prices/: on their own warehouse even
without a key, with a short summary instead of dbt's log."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batchledger.emulator import Emulator
from tests.cli.test_cli_ingest import run_cli
from tests.conftest import TEST_API_KEY


@pytest.mark.slow
def test_transform_without_a_key_rebuilds_the_named_warehouse_and_prints_a_summary(
    emulator: Emulator, tmp_path: Path
) -> None:
    db = tmp_path / "finance" / "spend.duckdb"
    ingest = run_cli(
        "ingest",
        env={
            "TOGETHER_API_KEY": TEST_API_KEY,
            "TOGETHER_BASE_URL": emulator.base_url,
            "BATCHLEDGER_DB": str(db),
        },
        cwd=tmp_path,
    )
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "TOGETHER_API_KEY"}
    env["BATCHLEDGER_DB"] = str(db)

    refreshed = run_cli("transform", "--full-refresh", env=env, cwd=tmp_path)
    assert refreshed.returncode == 0, refreshed.stderr[-2000:]
    out = refreshed.stdout
    assert "DEMO" not in out and not (tmp_path / "data" / "demo.duckdb").exists()
    assert "Transform summary" in out and str(db) in " ".join(out.split())
    assert "full rebuild (asked for with --full-refresh)" in " ".join(out.split())
    # The demo scenario has unpriced models: the build warns, and the summary names them.
    assert "warned: assert_all_items_priced" in out
    assert "its rows: select * from audit.assert_all_items_priced" in out
    assert "UNPRICED MODELS" in out
    # A summary, not dbt's log: no colour codes when piped, and a screenful at most.
    assert "\x1b[" not in out + refreshed.stderr
    assert len(out.splitlines()) < 40, out
    log = tmp_path / "finance" / ".work" / "spend" / "dbt" / "logs" / "dbt.log"
    assert "assert_all_items_priced" in log.read_text()

    again = run_cli("transform", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "up to date" in again.stdout
