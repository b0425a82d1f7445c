"""The marts as Parquet, one file per mart, per warehouse, swapped in atomically."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from batchledger.emulator import Emulator
from batchledger.exports import export_marts, marts_folder
from batchledger.ingest import run_ingest
from tests.conftest import make_settings
from tests.warehouse.test_publish import rows


def test_the_demo_ingest_writes_every_mart_as_parquet_beside_its_own_file(demo_db: Path) -> None:
    folder = marts_folder(demo_db)
    assert folder == demo_db.parent / "marts" / "demo"
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        marts = {
            str(row[0])
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        assert {p.stem for p in folder.glob("*.parquet")} == marts
        for mart in marts:
            table = pq.read_table(folder / f"{mart}.parquet")  # pyarrow, as a Parquet user would
            count = con.execute(f'select count(*) from marts."{mart}"').fetchone()
            assert count is not None and table.num_rows == count[0], mart
        total = con.execute("select sum(cost_usd) from marts.cost_by_month").fetchone()
    finally:
        con.close()
    costs = pq.read_table(folder / "cost_by_month.parquet").column("cost_usd").to_pylist()
    assert total is not None and sum(c for c in costs if c is not None) == total[0]
    assert all(isinstance(c, Decimal) for c in costs if c is not None)  # never a float


def build_id(n: int) -> str:
    """A build id as build_state.next_build_id makes them: 19 digits."""
    return f"{n:019d}"


def work_db(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.items (batch_id varchar, cost_usd decimal(38, 18), _build_id varchar)"
    )
    con.execute("insert into marts.items values ('b1', 1.5, '1')")
    con.execute("create table marts.by_month (month date, cost_usd decimal(38, 18))")
    con.execute("insert into marts.by_month values ('2026-11-01', 1.5)")
    con.close()
    return path


def test_a_new_set_is_swapped_in_whole_and_unchanged_incremental_marts_are_not_rewritten(
    tmp_path: Path,
) -> None:
    work = work_db(tmp_path / "work.duckdb")
    published = tmp_path / "data" / "warehouse.duckdb"
    folder = export_marts(work, published, build_id(1))
    assert folder == tmp_path / "data" / "marts" / "warehouse" and folder.is_symlink()
    first_items = (folder / "items.parquet").stat().st_ino
    held = (folder / "by_month.parquet").open("rb")  # a reader holding the old set

    # Nothing changed in the incremental mart: linked from the last set, not written again.
    folder = export_marts(work, published, build_id(2))
    assert (folder / "items.parquet").stat().st_ino == first_items
    assert len(list(folder.parent.glob(".warehouse-*"))) == 1  # the old set is gone
    assert held.read(4) == b"PAR1"  # and its reader still reads it
    held.close()

    con = duckdb.connect(str(work))
    con.execute("insert into marts.items values ('b2', 2.25, '3')")
    con.close()
    folder = export_marts(work, published, build_id(3))
    assert (folder / "items.parquet").stat().st_ino != first_items
    assert pq.read_table(folder / "items.parquet").num_rows == 2
    assert not list(folder.parent.glob("*.tmp"))


def test_a_marts_link_pointed_elsewhere_by_hand_is_never_deleted(tmp_path: Path) -> None:
    work = work_db(tmp_path / "work.duckdb")
    published = tmp_path / "data" / "warehouse.duckdb"
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "report.xlsx").write_text("precious")
    link = marts_folder(published)
    link.parent.mkdir(parents=True)
    link.symlink_to(shared)
    export_marts(work, published, build_id(1))
    assert (shared / "report.xlsx").read_text() == "precious"
    assert (link / "items.parquet").exists() and link.resolve() != shared.resolve()


def test_what_a_killed_export_left_is_swept_and_other_warehouses_are_not_touched(
    tmp_path: Path,
) -> None:
    work = work_db(tmp_path / "work.duckdb")
    published = tmp_path / "data" / "warehouse.duckdb"
    folder = export_marts(work, published, build_id(1))
    marts = folder.parent
    # An export killed after writing its staging set, one killed after renaming it, and one
    # killed before swapping its temporary symlink; beside them, another warehouse's sets.
    left = [marts / f".warehouse-{build_id(2)}.tmp", marts / f".warehouse-{build_id(3)}"]
    for path in left:
        path.mkdir()
        (path / "items.parquet").write_bytes(b"PAR1")
    stray_link = marts / ".warehouse.4242.link"
    stray_link.symlink_to(f".warehouse-{build_id(3)}")
    others = [
        marts / f".warehouse-eu-{build_id(5)}",
        marts / f".warehouse-eu-{build_id(5)}.tmp",
        marts / "warehouse-eu",
        marts / ".warehouse-2024.12",  # a user's folder, named like a date
    ]
    for path in others:
        path.mkdir()
    folder = export_marts(work, published, build_id(6))
    assert folder.resolve().name == f".warehouse-{build_id(6)}"
    assert not any(path.exists() for path in left)
    assert not stray_link.is_symlink()
    assert all(path.is_dir() for path in others)
    assert pq.read_table(folder / "items.parquet").num_rows == 1


@pytest.mark.slow
def test_a_broken_marts_folder_never_fails_the_run_or_its_next_one(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The warehouse is what matters: a symlink loop where the Parquet marts go is warned
    about, the run succeeds, and the next run knows it is up to date."""
    settings = make_settings(tmp_path, emulator.base_url)
    link = marts_folder(settings.db_path)
    link.parent.mkdir(parents=True)
    link.symlink_to(link.name)  # points at itself
    with caplog.at_level(logging.WARNING, logger="batchledger.build"):
        first = run_ingest(settings, Console(quiet=True))
    assert first.build is not None and first.build.mode == "full"
    assert "Parquet marts not written" in caplog.text
    assert rows(settings.db_path, "select count(*) > 0 from marts.fct_batch_items") == [(True,)]
    assert run_ingest(settings, Console(quiet=True)).up_to_date
