"""Analysts' own tables survive every publish: the `analyst` schema is carried across, and any
other object a publish would drop is kept in it, with a warning."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from batchledger.warehouse import ANALYST_SCHEMA, publish
from tests.duck import query
from tests.warehouse.test_publish import add_batch, make_work_db


def execute(db: Path, *statements: str) -> None:
    con = duckdb.connect(str(db))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def published_demo(tmp_path: Path) -> tuple[Path, Path]:
    """A working database with one batch, published once."""
    work = tmp_path / ".work" / "warehouse" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    published = tmp_path / "warehouse.duckdb"
    make_work_db(work)
    add_batch(work, "b1", "1000.1", "0000000000000000001", 5)
    publish(work, published)
    return work, published


def test_analyst_tables_and_views_survive_publishes_and_strays_are_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work, published = published_demo(tmp_path)

    # A finance analyst works in the published file, as the README tells them to.
    execute(
        published,
        f"create schema {ANALYST_SCHEMA}",
        f"create table {ANALYST_SCHEMA}.q4_plan as select 42 as budget",
        f"create view {ANALYST_SCHEMA}.big_jobs as "
        "select batch_id from marts.cost_by_job where cost_usd > 0",
        # ...and one table where batchledger's own objects live.
        "create table marts.my_scratch as select 'mine' as note",
    )

    for n, batch in enumerate(("b2", "b3"), start=2):
        add_batch(work, batch, f"1000.{n}", f"000000000000000000{n}", 5)
        with caplog.at_level(logging.WARNING, logger="batchledger.warehouse"):
            publish(work, published)  # the first copies, the second syncs a generation
        assert query(published, f"select budget from {ANALYST_SCHEMA}.q4_plan") == [(42,)]
        jobs = query(published, f"select count(*) from {ANALYST_SCHEMA}.big_jobs")
        assert jobs == [(n,)]  # the view reads the new marts
        assert query(published, f"select note from {ANALYST_SCHEMA}.marts__my_scratch") == [
            ("mine",)
        ]
        assert not query(
            published,
            "select 1 from duckdb_tables() where schema_name = 'marts' "
            "and table_name = 'my_scratch'",
        )
    assert "marts.my_scratch" in caplog.text and ANALYST_SCHEMA in caplog.text


def test_a_view_that_no_longer_binds_keeps_its_sql_and_does_not_block_publishing(
    tmp_path: Path,
) -> None:
    work, published = published_demo(tmp_path)
    execute(
        published,
        f"create schema {ANALYST_SCHEMA}",
        f"create view {ANALYST_SCHEMA}.old_cost as select cost_usd from marts.cost_by_job",
    )
    execute(work, "alter table marts.cost_by_job rename column cost_usd to billed_usd")
    publish(work, published)
    assert query(published, "select count(*) from marts.cost_by_job") == [(1,)]
    saved = query(published, f"select sql from {ANALYST_SCHEMA}.unbound_views")
    assert len(saved) == 1 and "old_cost" in str(saved[0][0])


def test_kept_sql_accumulates_across_publishes_whatever_the_schemas_sort_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Views made in a schema sorting before `analyst`, one per publish, and names differing
    only in case: every publish goes through and nothing kept is lost."""
    work, published = published_demo(tmp_path)
    csv = tmp_path / "plan.csv"
    csv.write_text("month,usd\n2026-11-01,10\n")
    execute(
        published,
        "create schema adhoc",
        "create view adhoc.v1 as select 1 as x",
        f"create schema {ANALYST_SCHEMA}",
        f'create table {ANALYST_SCHEMA}."main__T" as select 1 as y',
        "create table main.t as select 2 as y",
        f"create view {ANALYST_SCHEMA}.plan as select * from read_csv('{csv}')",
    )
    with caplog.at_level(logging.WARNING, logger="batchledger.warehouse"):
        publish(work, published)
    execute(published, "create schema adhoc", "create view adhoc.v2 as select 2 as x")
    add_batch(work, "b2", "1000.2", "0000000000000000002", 5)
    publish(work, published)
    saved = {
        str(row[0]) for row in query(published, f"select sql from {ANALYST_SCHEMA}.unbound_views")
    }
    assert any("v1" in sql for sql in saved) and any("v2" in sql for sql in saved)
    assert any("plan.csv" in sql for sql in saved)  # a publish never reads users' files
    assert "read a file or URL" in caplog.text
    kept = query(
        published,
        "select table_name from duckdb_tables() where schema_name = 'analyst' order by 1",
    )
    assert [row[0] for row in kept] == ["main__T", "main__t_", "unbound_views"]
    assert query(published, f"select y from {ANALYST_SCHEMA}.main__t_") == [(2,)]
    assert query(published, "select count(distinct batch_id) from marts.cost_by_job") == [(2,)]


def test_a_file_held_open_for_writing_is_not_replaced_and_says_why(tmp_path: Path) -> None:
    import subprocess
    import sys

    from batchledger.warehouse import WarehouseBusyError

    work, published = published_demo(tmp_path)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, duckdb\n"
            f"con = duckdb.connect({str(published)!r})\n"
            "con.execute('create table analyst_note as select 1 as x')\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        add_batch(work, "b2", "1000.2", "0000000000000000002", 5)
        with pytest.raises(WarehouseBusyError, match="open for writing"):
            publish(work, published)
    finally:
        assert writer.stdin is not None
        writer.stdin.close()
        writer.wait(timeout=30)
    # Nothing of theirs was lost: the next publish carries their table over.
    publish(work, published)
    assert query(published, f"select x from {ANALYST_SCHEMA}.main__analyst_note") == [(1,)]
    assert query(published, "select count(distinct batch_id) from marts.cost_by_job") == [(2,)]


def test_users_names_are_identifiers_and_their_sql_never_runs_in_the_publish(
    tmp_path: Path,
) -> None:
    work, published = published_demo(tmp_path)
    canary = tmp_path / "pwned.csv"
    execute(
        published,
        f"create schema {ANALYST_SCHEMA}",
        f'create table {ANALYST_SCHEMA}."x"" as select 1; copy (select 1) to '
        f"'{canary}'; --\" as select 1 as a",
        'create schema "s.x"',
        'create table "s.x".t as select 2 as b',
        # A view outside the analyst schema is kept as SQL, never run by the publish.
        "create view marts.leak as select content from read_text('/proc/self/environ')",
    )
    add_batch(work, "b2", "1000.2", "0000000000000000002", 5)
    publish(work, published)
    assert not canary.exists()
    names = {
        row[0]
        for row in query(
            published,
            f"select table_name from duckdb_tables() where schema_name = '{ANALYST_SCHEMA}'",
        )
    }
    assert 'x" as select 1; copy (select 1) to ' in "".join(names)
    assert "s.x__t" in names
    saved = query(published, f"select sql from {ANALYST_SCHEMA}.unbound_views")
    assert any("read_text" in str(row[0]) for row in saved)
    assert "marts__leak" not in names  # never materialised: it would hold our environment


def test_a_stale_log_beside_the_published_file_is_folded_in_once(tmp_path: Path) -> None:
    """A writer killed before it checkpointed leaves a .wal; the publish carries its tables
    and the new file opens, without their rows twice."""
    import subprocess
    import sys

    work, published = published_demo(tmp_path)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, os, signal\n"
            f"c = duckdb.connect({str(published)!r})\n"
            "c.execute(\"set checkpoint_threshold = '1TB'\")\n"
            f"c.execute('create schema {ANALYST_SCHEMA}')\n"
            f"c.execute('create table {ANALYST_SCHEMA}.mine as select range as i from range(10)')\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        check=False,
    )
    assert published.with_name(published.name + ".wal").exists()
    for n in (2, 3):
        add_batch(work, f"b{n}", f"1000.{n}", f"000000000000000000{n}", 5)
        publish(work, published)
        assert query(published, f"select count(*) from {ANALYST_SCHEMA}.mine") == [(10,)]
