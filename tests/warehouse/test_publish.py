"""Publishing: readers see the old file or the new one, never a mix; a publish copies only what
changed when it can, and a reader holding an old generation is never written under."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from batchledger.warehouse import GENERATIONS_DIR, prepare_work_db, publish
from tests.duck import query


def make_work_db(path: Path) -> None:
    """A working database shaped like ingest's: a raw line table keyed by file, an item mart
    keyed by batch with its build id, a small table and a view over a view."""
    con = duckdb.connect(str(path))
    con.execute("create schema raw_together")
    con.execute("create schema marts")
    con.execute("create schema staging")
    con.execute(
        "create table raw_together.batch_results "
        "(file_id varchar, line_number bigint, value bigint, _dlt_load_id varchar not null)"
    )
    con.execute(
        "create table marts.fct_batch_items "
        "(batch_id varchar, custom_id varchar, cost_usd decimal(38, 18), _build_id varchar)"
    )
    con.execute("create table marts.cost_by_job (batch_id varchar, cost_usd decimal(38, 18))")
    con.execute("create view staging.results as select * from raw_together.batch_results")
    con.execute(
        "create view marts.results_per_file as select file_id, count(*) as n "
        "from staging.results group by file_id"
    )
    con.close()


def add_batch(work: Path, batch: str, load_id: str, build_id: str, lines: int) -> None:
    con = duckdb.connect(str(work))
    con.execute(
        "insert into raw_together.batch_results select ?, range + 1, range, ? from range(?)",
        [f"file-{batch}", load_id, lines],
    )
    con.execute("delete from marts.fct_batch_items where batch_id = ?", [batch])
    con.execute(
        "insert into marts.fct_batch_items "
        "select ?, 'c' || range, range * 0.000001, ? from range(?)",
        [batch, build_id, lines],
    )
    con.execute("delete from marts.cost_by_job")
    con.execute(
        "insert into marts.cost_by_job select batch_id, sum(cost_usd) "
        "from marts.fct_batch_items group by all"
    )
    con.close()


def snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            name: sorted(con.execute(f"select * from {name}").fetchall())
            for name in (
                "raw_together.batch_results",
                "marts.fct_batch_items",
                "marts.cost_by_job",
                "marts.results_per_file",
            )
        }
    finally:
        con.close()


class Reader:
    """A DuckDB reader in its own process, as a BI tool would be: it holds the file it opened
    (and DuckDB's lock on it) until told to stop."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def read_snapshot(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())


@contextmanager
def held_open(db: Path) -> Iterator[Reader]:
    code = (
        "import sys, duckdb\n"
        f"con = duckdb.connect({str(db)!r}, read_only=True)\n"
        "print('ready', flush=True)\n"
        "for line in sys.stdin:\n"
        "    n = con.execute('select count(*) from marts.fct_batch_items').fetchone()[0]\n"
        "    print(n, flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield Reader(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def test_publishes_copy_then_sync_and_never_writes_under_a_reader(tmp_path: Path) -> None:
    work = tmp_path / ".work" / "warehouse" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    published = tmp_path / "warehouse.duckdb"
    make_work_db(work)

    add_batch(work, "b1", "1000.1", "0000000000000000001", 50)
    assert publish(work, published).strategy == "copy"
    assert snapshot(published) == snapshot(work)

    add_batch(work, "b2", "1000.2", "0000000000000000002", 30)
    # The only other generation is the one readers see: a second full copy.
    assert publish(work, published).strategy == "copy"
    assert snapshot(published) == snapshot(work)

    # A reader in another process opens the published file (generation 2) and keeps it open.
    with held_open(published) as seen:
        # Generation 1 is free: brought up to date by the rows written since (b2, b3, b1).
        add_batch(work, "b3", "1000.3", "0000000000000000003", 20)
        add_batch(work, "b1", "1000.3", "0000000000000000003", 40)
        assert publish(work, published).strategy == "sync"
        assert snapshot(published) == snapshot(work)

        # Generation 2 is held by the reader: it is left alone and a new copy is published.
        add_batch(work, "b4", "1000.4", "0000000000000000004", 10)
        assert publish(work, published).strategy == "copy"
        assert snapshot(published) == snapshot(work)
        assert seen.read_snapshot() == 80  # its own snapshot: b1 (50) and b2 (30)

    generations = sorted(p.name for p in (work.parent / GENERATIONS_DIR).glob("gen-*.duckdb"))
    assert len(generations) <= 2, generations


def test_a_sync_that_would_move_most_rows_copies_the_file_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a full rebuild every mart row is new: syncing a generation would push them all
    through SQL, so the publish copies the file; a small change still syncs."""
    from batchledger import warehouse

    monkeypatch.setattr(warehouse, "SYNC_MIN_ROWS", 10)
    work = tmp_path / ".work" / "warehouse" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    published = tmp_path / "warehouse.duckdb"
    make_work_db(work)
    for n in range(1, 20):
        add_batch(work, f"b{n:02}", f"1000.{n:02}", f"00000000000000000{n:02}", 20)
    assert publish(work, published).strategy == "copy"
    assert publish(work, published).strategy == "copy"  # the other generation, first made
    add_batch(work, "b20", "1000.20", "0000000000000000020", 20)
    assert publish(work, published).strategy == "sync"  # one batch of twenty: a sync
    assert snapshot(published) == snapshot(work)
    # Three batches of twenty-three: more than a tenth of the rows, a copy.
    for n in range(21, 24):
        add_batch(work, f"b{n}", f"1000.{n}", f"00000000000000000{n}", 20)
    assert publish(work, published).strategy == "copy"
    assert snapshot(published) == snapshot(work)
    # A full rebuild: every batch's mart rows written again by a new build.
    for n in range(1, 24):
        add_batch(work, f"b{n:02}", "1000.23", "0000000000000000024", 20)
    assert publish(work, published).strategy == "copy"
    assert snapshot(published) == snapshot(work)


def test_a_publish_killed_before_its_rename_leaves_nothing_behind(tmp_path: Path) -> None:
    work = tmp_path / ".work" / "warehouse" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    published = tmp_path / "warehouse.duckdb"
    make_work_db(work)
    add_batch(work, "b1", "1000.1", "0000000000000000001", 5)
    # A link left by a publish whose process no longer exists.
    leftover = tmp_path / ".warehouse.duckdb.999999999.publishing"
    leftover.write_bytes(b"half")
    publish(work, published)
    assert not leftover.exists()
    assert snapshot(published) == snapshot(work)


def test_a_generation_whose_marks_were_lost_is_never_synced(tmp_path: Path) -> None:
    """A crash mid-sync removes the generation's marks first, so it is copied over, not
    patched from a state it is not in."""
    work = tmp_path / ".work" / "warehouse" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    published = tmp_path / "warehouse.duckdb"
    make_work_db(work)
    add_batch(work, "b1", "1000.1", "0000000000000000001", 5)
    publish(work, published)
    add_batch(work, "b2", "1000.2", "0000000000000000002", 5)
    publish(work, published)
    for sidecar in (work.parent / GENERATIONS_DIR).glob("gen-*.json"):
        sidecar.unlink()
    add_batch(work, "b3", "1000.3", "0000000000000000003", 5)
    assert publish(work, published).strategy == "copy"
    assert snapshot(published) == snapshot(work)


@pytest.mark.parametrize("schema_change", ["new column", "new table"])
def test_schema_changes_are_published(tmp_path: Path, schema_change: str) -> None:
    work = tmp_path / ".work" / "warehouse" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    published = tmp_path / "warehouse.duckdb"
    make_work_db(work)
    add_batch(work, "b1", "1000.1", "0000000000000000001", 5)
    publish(work, published)
    publish(work, published)
    con = duckdb.connect(str(work))
    if schema_change == "new column":
        con.execute("alter table marts.cost_by_job add column jobs bigint default 1")
    else:
        con.execute("create table marts.extra as select 1 as x")
    con.close()
    assert publish(work, published).strategy == "sync"
    con = duckdb.connect(str(published), read_only=True)
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    columns = {r[0] for r in con.execute("describe marts.cost_by_job").fetchall()}
    con.close()
    assert ("jobs" in columns) == (schema_change == "new column")
    assert ("extra" in tables) == (schema_change == "new table")


def test_a_generation_written_by_a_reader_is_copied_over_not_synced(tmp_path: Path) -> None:
    """An analyst who opens the published file read-write and changes a row changes that
    generation: two publishes later it is replaced whole, so the change never leaks into the
    warehouse through a sync."""
    work = tmp_path / ".work" / "warehouse" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    published = tmp_path / "warehouse.duckdb"
    make_work_db(work)
    add_batch(work, "b1", "1000.1", "0000000000000000001", 5)
    publish(work, published)
    publish(work, published)
    analyst = duckdb.connect(str(published))
    analyst.execute("update marts.fct_batch_items set cost_usd = 999 where custom_id = 'c0'")
    analyst.close()
    add_batch(work, "b2", "1000.2", "0000000000000000002", 5)
    assert publish(work, published).strategy == "sync"  # the other, untouched generation
    add_batch(work, "b3", "1000.3", "0000000000000000003", 5)
    assert publish(work, published).strategy == "copy"  # the one the analyst wrote to
    assert snapshot(published) == snapshot(work)


def storage_version(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "select tags['storage_version'] from duckdb_databases() "
            "where database_name = current_database()"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


def test_a_new_working_database_is_written_in_the_format_1x_clients_open(tmp_path: Path) -> None:
    work_dir = tmp_path / ".work" / "warehouse"
    work = prepare_work_db(work_dir, tmp_path / "warehouse.duckdb")
    make_work_db(work)
    add_batch(work, "b1", "1700000000.1", "0001", 10)
    assert storage_version(work).startswith("v1.")
    publish(work, tmp_path / "warehouse.duckdb")
    assert storage_version(tmp_path / "warehouse.duckdb").startswith("v1.")


def test_a_working_database_in_the_newer_format_is_rewritten_once_losing_nothing(
    tmp_path: Path,
) -> None:
    """A warehouse built by an earlier batchledger (DuckDB 2's default format) is copied into
    the 1.x-readable format, and the generations published from it are dropped, so the next
    publish is a full copy rather than a sync into a file 1.x clients cannot open."""
    work_dir = tmp_path / ".work" / "warehouse"
    work_dir.mkdir(parents=True)
    work = work_dir / "warehouse.duckdb"
    make_work_db(work)
    add_batch(work, "b1", "1700000000.1", "0001", 10)
    published = tmp_path / "warehouse.duckdb"
    publish(work, published)
    assert storage_version(work).startswith("v2.")
    before = query(work, "select * from marts.fct_batch_items order by all")

    assert prepare_work_db(work_dir, published) == work
    assert storage_version(work).startswith("v1.")
    assert query(work, "select * from marts.fct_batch_items order by all") == before
    assert query(work, "select n from marts.results_per_file") == [(10,)]
    assert not list((work_dir / GENERATIONS_DIR).glob("gen-*"))
    publish(work, published)
    assert storage_version(published).startswith("v1.")


def test_a_full_copy_first_drops_the_older_generation_and_a_failed_one_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy needs room for one more full file: the generation it passes over goes before
    the copy, not after; a copy that fails (a full disk) leaves no partial file, and the
    published file is as it was."""
    import shutil

    from batchledger import warehouse

    monkeypatch.setattr(warehouse, "SYNC_MIN_ROWS", 10)
    work = tmp_path / ".work" / "warehouse" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    published = tmp_path / "warehouse.duckdb"
    make_work_db(work)
    add_batch(work, "b1", "1000.1", "0000000000000000001", 50)
    assert publish(work, published).strategy == "copy"
    add_batch(work, "b2", "1000.2", "0000000000000000002", 50)
    assert publish(work, published).strategy == "copy"
    generations = work.parent / GENERATIONS_DIR

    def on_disk() -> list[str]:
        return sorted(path.name for path in generations.glob("gen-*.duckdb"))

    assert on_disk() == ["gen-1.duckdb", "gen-2.duckdb"]
    # A full rebuild: every mart row new, so the publish copies the file.
    for batch in ("b1", "b2"):
        add_batch(work, batch, "1000.2", "0000000000000000003", 50)
    before = snapshot(published)
    seen: list[list[str]] = []
    copy = shutil.copyfile

    def copy_onto_a_full_disk(source: Path, target: Path) -> None:
        seen.append(on_disk())
        copy(source, target)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", copy_onto_a_full_disk)
    with pytest.raises(OSError, match="No space left"):
        publish(work, published)
    assert seen == [["gen-2.duckdb"]]  # only the published generation beside the copy
    assert on_disk() == ["gen-2.duckdb"]
    assert snapshot(published) == before
    monkeypatch.setattr(shutil, "copyfile", copy)
    assert publish(work, published).strategy == "copy"
    assert snapshot(published) == snapshot(work)
