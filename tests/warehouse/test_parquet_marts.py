"""The marts as Parquet, per warehouse, swapped in atomically: one file per mart, or a folder
of parts for the marts that record the build of each row."""

from __future__ import annotations

import json
import logging
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batchledger.emulator import Emulator
from batchledger.exports import MANIFEST, MAX_PARTS, export_marts, marts_folder
from batchledger.ingest import run_ingest
from tests.conftest import make_settings
from tests.duck import query


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
        assert {p.stem for p in folder.glob("*.parquet")} | parted(folder) == marts
        assert parted(folder) == {"fct_batch_items", "data_quality_issues"}
        for mart in marts:
            table = read(folder, mart)  # pyarrow, as a Parquet user would
            count = con.execute(f'select count(*) from marts."{mart}"').fetchone()
            assert count is not None and table.num_rows == count[0], mart
        total = con.execute("select sum(cost_usd) from marts.cost_by_month").fetchone()
    finally:
        con.close()
    costs = read(folder, "cost_by_month").column("cost_usd").to_pylist()
    assert total is not None and sum(c for c in costs if c is not None) == total[0]
    assert all(isinstance(c, Decimal) for c in costs if c is not None)  # never a float


def parted(folder: Path) -> set[str]:
    """The marts written as a folder of parts."""
    return {p.name for p in folder.iterdir() if p.is_dir()}


def read(folder: Path, mart: str) -> pa.Table:
    """A mart as pyarrow reads it: a file, or a folder of parts as one dataset."""
    path = folder / mart
    return pq.read_table(path if path.is_dir() else folder / f"{mart}.parquet")


def parts(folder: Path, mart: str) -> dict[str, int]:
    """Part file name -> inode."""
    return {p.name: p.stat().st_ino for p in (folder / mart).glob("*.parquet")}


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


def test_a_new_set_is_swapped_in_whole_and_unchanged_parts_are_not_rewritten(
    tmp_path: Path,
) -> None:
    work = work_db(tmp_path / "work.duckdb")
    published = tmp_path / "data" / "warehouse.duckdb"
    folder = export_marts(work, published, build_id(1))
    assert folder == tmp_path / "data" / "marts" / "warehouse" and folder.is_symlink()
    first = parts(folder, "items")
    assert len(first) == 1
    held = (folder / "by_month.parquet").open("rb")  # a reader holding the old set

    # Nothing changed in the incremental mart: its part is linked, not written again.
    folder = export_marts(work, published, build_id(2))
    assert parts(folder, "items") == first
    assert len(list(folder.parent.glob(".warehouse-*"))) == 1  # the old set is gone
    assert held.read(4) == b"PAR1"  # and its reader still reads it
    held.close()

    # A new build's rows: a new part beside the old one, which is linked.
    con = duckdb.connect(str(work))
    con.execute("insert into marts.items values ('b2', 2.25, '3')")
    con.close()
    folder = export_marts(work, published, build_id(3))
    second = parts(folder, "items")
    assert len(second) == 2 and set(first.items()) < set(second.items())
    assert sorted(read(folder, "items").column("batch_id").to_pylist()) == ["b1", "b2"]
    assert not list(folder.parent.glob("*.tmp"))

    # A later build replaces b1 (delete+insert, as dbt does): the part that held b1's old
    # rows goes, b2's part stays linked, and b1's new rows are in a new part.
    con = duckdb.connect(str(work))
    con.execute("delete from marts.items where batch_id = 'b1'")
    con.execute("insert into marts.items values ('b1', 1.75, '4')")
    con.close()
    folder = export_marts(work, published, build_id(4))
    third = parts(folder, "items")
    assert len(third) == 2 and set(third.items()) & set(second.items()) == {
        (name, inode) for name, inode in second.items() if name not in first
    }
    table = read(folder, "items").sort_by("batch_id")
    assert table.column("cost_usd").to_pylist() == [Decimal("1.75"), Decimal("2.25")]


def test_parts_stay_few_and_every_row_is_read_once(tmp_path: Path) -> None:
    """After many runs, each adding one build's rows, the smallest parts are merged, and
    DuckDB and pyarrow read each row exactly once."""
    work = work_db(tmp_path / "work.duckdb")
    published = tmp_path / "data" / "warehouse.duckdb"
    expected = {"b1": Decimal("1.5")}
    for n in range(2, 2 + 2 * MAX_PARTS):
        con = duckdb.connect(str(work))
        con.execute(
            "insert into marts.items values ($b, $c, $build)",
            {"b": f"b{n}", "c": Decimal(n) / 4, "build": str(n)},
        )
        con.close()
        expected[f"b{n}"] = Decimal(n) / 4
        folder = export_marts(work, published, build_id(n))
        assert len(parts(folder, "items")) <= MAX_PARTS
    table = read(folder, "items")
    assert (
        dict(
            zip(
                table.column("batch_id").to_pylist(),
                table.column("cost_usd").to_pylist(),
                strict=True,
            )
        )
        == expected
    )
    assert table.num_rows == len(expected)
    con = duckdb.connect()
    found = con.execute(
        f"select count(*), sum(cost_usd) from read_parquet('{folder}/items/*.parquet')"
    ).fetchone()
    assert found == (len(expected), sum(expected.values()))


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
    assert parts(link, "items") and link.resolve() != shared.resolve()


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
    assert read(folder, "items").num_rows == 1


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
        first = run_ingest(settings)
    assert first.build is not None and first.build.mode == "full"
    assert "Parquet marts not written" in caplog.text
    assert query(settings.db_path, "select count(*) > 0 from marts.fct_batch_items") == [(True,)]
    assert run_ingest(settings).up_to_date


def test_a_marts_folder_behind_a_symlink_keeps_its_parts_when_a_build_is_exported_again(
    tmp_path: Path,
) -> None:
    """data/marts may be a symlink (to a bigger disk). Exporting the same build again, as a
    publish of a missing file does, keeps the live set and leaves no staging folder."""
    work = work_db(tmp_path / "work.duckdb")
    published = tmp_path / "data" / "warehouse.duckdb"
    elsewhere = tmp_path / "big-disk" / "marts"
    elsewhere.mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "marts").symlink_to(elsewhere)
    folder = export_marts(work, published, build_id(1))
    again = export_marts(work, published, build_id(1))
    assert again == folder and read(folder, "items").num_rows == 1
    assert read(folder, "by_month").num_rows == 1
    assert not list(elsewhere.glob("*.tmp"))


def test_a_damaged_manifest_costs_a_rewrite_never_a_row_read_twice(tmp_path: Path) -> None:
    work = work_db(tmp_path / "work.duckdb")
    published = tmp_path / "data" / "warehouse.duckdb"
    folder = export_marts(work, published, build_id(1))
    generation = folder.resolve()
    manifest = json.loads((generation / MANIFEST).read_text())
    [(name, builds)] = manifest["items"]["parts"].items()
    # A copy of the part listed under a second name, and a name that leaves the folder.
    shutil.copy(generation / "items" / name, generation / "items" / f"part-{build_id(9)}.parquet")
    manifest["items"]["parts"][f"part-{build_id(9)}.parquet"] = builds
    manifest["items"]["parts"]["../../escaped.parquet"] = {"7": 1}
    (generation / MANIFEST).write_text(json.dumps(manifest))
    folder = export_marts(work, published, build_id(2))
    assert read(folder, "items").num_rows == 1
    assert not (tmp_path / "data" / "escaped.parquet").exists()
