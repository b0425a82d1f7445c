"""The key never leaks; readers holding the warehouse open never block or see a partial build."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from batchledger.emulator import Emulator
from batchledger.ingest import run_ingest
from batchledger.settings import Settings
from tests.conftest import TEST_API_KEY


@pytest.mark.slow
def test_api_key_appears_in_no_log_table_or_file(
    emulator: Emulator,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.faults.server_errors = 1  # exercise the retry logging path too
    run_ingest(settings, build=False)
    assert TEST_API_KEY not in caplog.text
    captured = capsys.readouterr()
    assert TEST_API_KEY not in captured.out + captured.err
    needle = TEST_API_KEY.encode()
    scanned = 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            scanned += 1
            assert needle not in path.read_bytes(), f"API key found in {path}"
    assert scanned > 10, "the scan must cover the warehouse, landing copies and dlt's state"
    con = duckdb.connect(str(settings.db_path), read_only=True)
    for schema, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR'"
    ).fetchall():
        hits = con.execute(
            f'select count(*) from "{schema}"."{table}" where "{column}" like ?',
            [f"%{TEST_API_KEY}%"],
        ).fetchone()
        assert hits == (0,), f"key found in {schema}.{table}.{column}"
    con.close()


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
before = con.execute("select count(*) from raw_together.batch_results").fetchone()[0]
print(before, flush=True)
sys.stdin.readline()  # hold the file open until the test is done ingesting
after = con.execute("select count(*) from raw_together.batch_results").fetchone()[0]
print(after, flush=True)
"""


@pytest.mark.slow
def test_ingest_succeeds_while_a_reader_holds_the_warehouse_open(
    emulator: Emulator, settings: Settings
) -> None:
    run_ingest(settings, build=False)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdin is not None
        before = int(reader.stdout.readline())
        # New results appear while the reader holds its connection.
        emulator.advance(3 * 3600)
        run_ingest(settings, build=False)
        reader.stdin.write("\n")
        reader.stdin.flush()
        after_in_reader = int(reader.stdout.readline())
    finally:
        reader.communicate(timeout=30)
    assert reader.returncode == 0
    # The reader kept its consistent snapshot; a new reader sees the new build.
    assert after_in_reader == before
    con = duckdb.connect(str(settings.db_path), read_only=True)
    now = con.execute("select count(*) from raw_together.batch_results").fetchone()[0]
    con.close()
    assert now > before


def test_a_second_ingest_on_the_same_warehouse_is_refused(
    emulator: Emulator, settings: Settings
) -> None:
    from batchledger.warehouse import WarehouseBusyError, ingest_lock

    with ingest_lock(settings.work_dir), pytest.raises(WarehouseBusyError, match="Another ingest"):
        run_ingest(settings, build=False)
    assert emulator.request_log == [], "a refused run must not touch the API"
