"""Crash safety: `batchledger ingest` killed with SIGKILL at random points, rerun each time,
ends with exactly the rows and totals of a clean run.

`make test` kills it twice; `make crashtest` sets CRASHTEST_KILLS=20 (or more).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from batchledger.emulator import Emulator
from tests.conftest import TEST_API_KEY
from tests.ingest.test_ingest import counts

KILLS = int(os.environ.get("CRASHTEST_KILLS", "2"))

TOTALS = """
select
    count(*),
    count(distinct custom_id),
    sum(try_cast(json_extract(usage, '$.prompt_tokens') as bigint)),
    sum(try_cast(json_extract(usage, '$.completion_tokens') as bigint))
from raw_together.batch_results
"""


def _env(data: Path, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "TOGETHER_API_KEY": TEST_API_KEY,
        "TOGETHER_BASE_URL": base_url,
        "BATCHLEDGER_DB": str(data / "warehouse.duckdb"),
        "BATCHLEDGER_LANDING_DIR": str(data / "landing"),
    }


def _ingest(data: Path, base_url: str) -> subprocess.Popen[bytes]:
    # Its own process group, so the kill reaches any child it starts too.
    return subprocess.Popen(
        [sys.executable, "-m", "batchledger.cli", "ingest", "--no-build"],
        env=_env(data, base_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _state(data: Path) -> tuple[dict[str, int], tuple[object, ...] | None]:
    db = data / "warehouse.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        totals = con.execute(TOTALS).fetchone()
    finally:
        con.close()
    return counts(db), totals


@pytest.mark.slow
@pytest.mark.timeout(120 + 20 * KILLS)
def test_sigkill_at_random_points_then_rerun_equals_a_clean_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    base_url = emulator.base_url or ""
    clean = _ingest(tmp_path / "clean", base_url)
    started = time.monotonic()
    _, err = clean.communicate(timeout=120)
    assert clean.returncode == 0, err.decode()
    span = time.monotonic() - started  # only to spread the kill points, never asserted

    crashed = tmp_path / "crashed"
    rng = random.Random(int(os.environ.get("CRASHTEST_SEED", "20261128")))
    for _ in range(KILLS):
        run = _ingest(crashed, base_url)
        try:
            run.wait(timeout=rng.uniform(0.2, span))
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        else:
            assert run.returncode == 0, run.stderr.read().decode() if run.stderr else ""
    final = _ingest(crashed, base_url)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    assert _state(crashed) == _state(tmp_path / "clean")


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes whose parent is `pid`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(proc.name), cmdline))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(180)
def test_a_killed_ingest_takes_its_dbt_child_with_it(emulator: Emulator, tmp_path: Path) -> None:
    """Issue 8, class 8: SIGKILL to the ingest alone (not its group, as cron's timeout or the
    OOM killer would) must not leave its dbt build running on the working copy."""
    data = tmp_path / "data"
    run = subprocess.Popen(
        [sys.executable, "-m", "batchledger.cli", "ingest"],
        env=_env(data, emulator.base_url or ""),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dbt_pid = None
    deadline = time.monotonic() + 120
    while dbt_pid is None and time.monotonic() < deadline and run.poll() is None:
        dbt_pid = next((pid for pid, cmd in _children(run.pid) if "dbt" in cmd), None)
        time.sleep(0.05)
    assert dbt_pid is not None, "the ingest never started dbt"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    gone_by = time.monotonic() + 10
    while _alive(dbt_pid) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not _alive(dbt_pid), "dbt outlived the ingest that started it"
    rerun = subprocess.run(
        [sys.executable, "-m", "batchledger.cli", "ingest"],
        env=_env(data, emulator.base_url or ""),
        capture_output=True,
        timeout=150,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
