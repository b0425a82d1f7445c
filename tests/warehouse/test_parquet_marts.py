"""The marts as Parquet, one file per mart, per warehouse, swapped in atomically."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from batchledger.exports import export_marts, marts_folder


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
    folder = export_marts(work, published, "1")
    assert folder == tmp_path / "data" / "marts" / "warehouse" and folder.is_symlink()
    first_items = (folder / "items.parquet").stat().st_ino
    held = (folder / "by_month.parquet").open("rb")  # a reader holding the old set

    # Nothing changed in the incremental mart: linked from the last set, not written again.
    folder = export_marts(work, published, "2")
    assert (folder / "items.parquet").stat().st_ino == first_items
    assert len(list(folder.parent.glob(".warehouse-*"))) == 1  # the old set is gone
    assert held.read(4) == b"PAR1"  # and its reader still reads it
    held.close()

    con = duckdb.connect(str(work))
    con.execute("insert into marts.items values ('b2', 2.25, '3')")
    con.close()
    folder = export_marts(work, published, "3")
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
    export_marts(work, published, "1")
    assert (shared / "report.xlsx").read_text() == "precious"
    assert (link / "items.parquet").exists() and link.resolve() != shared.resolve()


def test_what_a_killed_export_left_is_swept_and_other_warehouses_are_not_touched(
    tmp_path: Path,
) -> None:
    work = work_db(tmp_path / "work.duckdb")
    published = tmp_path / "data" / "warehouse.duckdb"
    folder = export_marts(work, published, "1")
    marts = folder.parent
    # An export killed after writing its staging set, one killed after renaming it, and one
    # killed before swapping its temporary symlink; beside them, another warehouse's sets.
    left = [marts / ".warehouse-2.tmp", marts / ".warehouse-3"]
    for path in left:
        path.mkdir()
        (path / "items.parquet").write_bytes(b"PAR1")
    stray_link = marts / ".warehouse.4242.link"
    stray_link.symlink_to(".warehouse-3")
    others = [marts / ".warehouse-eu-5", marts / ".warehouse-eu-5.tmp", marts / "warehouse-eu"]
    for path in others:
        path.mkdir()
    folder = export_marts(work, published, "6")
    assert folder.resolve().name == ".warehouse-6"
    assert not any(path.exists() for path in left)
    assert not stray_link.is_symlink()
    assert all(path.is_dir() for path in others)
    assert pq.read_table(folder / "items.parquet").num_rows == 1
