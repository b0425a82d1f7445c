"""The warehouse file: a private working copy that ingest writes, published atomically for readers.

BI tools hold the published DuckDB file open for hours, and DuckDB will not let a writer in while
they do. So ingest writes to `<data>/.work/<name>/warehouse.duckdb`, which no reader opens, and only
a finished build is copied beside the published path and renamed over it. Readers that already have
the old file open keep reading it; new readers get the new one; nobody sees a half-built state.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb

from batchledger.settings import duckdb_memory_limit
from batchledger.sources.together_batches.helpers import KnownState
from batchledger.sources.together_batches.settings import DATASET_NAME

log = logging.getLogger(__name__)

# The schema that belongs to the warehouse's users: carried across every publish, and where an
# object a publish would otherwise drop is kept (see _carry_users_objects).
ANALYST_SCHEMA = "analyst"
# Where build.py puts a build's scope in the working database (dropped before publishing).
SCOPE_SCHEMA = "_batchledger_build"


class WarehouseBusyError(RuntimeError):
    """Another ingest is writing the same warehouse."""


@contextmanager
def ingest_lock(work_dir: Path) -> Iterator[None]:
    """One writer per warehouse: overlapping cron runs must not interleave loads."""
    work_dir.mkdir(parents=True, exist_ok=True)
    with (work_dir / "ingest.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusyError(
                f"Another ingest is running on {work_dir.parent.parent} (lock {fh.name})"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# BI tools bundle their own DuckDB, often 1.x, and DuckDB 2.x writes a storage format that 1.x
# refuses to open. The working database, and so every copy published from it, is written in
# DuckDB 1.1's format, which every client from 1.1 on opens.
STORAGE_VERSION = "v1.1.0"


def work_db_path(work_dir: Path) -> Path:
    """The working database in a warehouse's private work folder."""
    return work_dir / "warehouse.duckdb"


def prepare_work_db(work_dir: Path, published: Path, *, create: bool = True) -> Path:
    """The working database; seeded from the published file if the working copy was lost, and
    created (with `create`; or rewritten once, from an older batchledger) in STORAGE_VERSION's
    format."""
    work_db = work_db_path(work_dir)
    if not work_db.exists() and published.exists():
        shutil.copyfile(published, work_db)
    if not work_db.exists():
        if not create:
            return work_db
        work_dir.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        try:
            con.execute(f"attach {_literal(work_db)} as work (storage_version '{STORAGE_VERSION}')")
        finally:
            con.close()
    elif not _opens_in_old_clients(work_db):
        _rewrite_in_storage_version(work_db)
    return work_db


def _opens_in_old_clients(path: Path) -> bool:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "select tags['storage_version'] from duckdb_databases() "
            "where database_name = current_database()"
        ).fetchone()
    finally:
        con.close()
    # Only the format DuckDB 1.1 writes ("v1.0.0+") opens in every 1.x client from 1.1 on.
    return bool(row and str(row[0]) == "v1.0.0+")


def _rewrite_in_storage_version(work_db: Path) -> None:
    """Copy a working database written in a newer format into one in STORAGE_VERSION's, and
    drop the published generations made from it, so the next publish is a full copy."""
    fresh = work_db.with_name(work_db.name + ".rewrite")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect(config={"memory_limit": duckdb_memory_limit()})
    try:
        con.execute(f"attach {_literal(work_db)} as old (read_only)")
        con.execute(f"attach {_literal(fresh)} as fresh (storage_version '{STORAGE_VERSION}')")
        con.execute("copy from database old to fresh")
        con.execute("detach fresh")
    finally:
        con.close()
    with fresh.open("rb") as fh:
        os.fsync(fh.fileno())
    # Generations first: a crash after the replace must not leave one to sync into.
    for old in (work_db.parent / GENERATIONS_DIR).glob("gen-*"):
        old.unlink(missing_ok=True)
    os.replace(fresh, work_db)
    # The old file's log was replayed into the copy; left here it would not match the new file.
    work_db.with_name(work_db.name + ".wal").unlink(missing_ok=True)


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> frozenset[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [schema]
    ).fetchall()
    return frozenset(row[0] for row in rows)


def tables_in(work_db: Path, schema: str) -> frozenset[str]:
    """The tables of `schema` in the working database (none when it does not exist yet)."""
    if not work_db.exists():
        return frozenset()
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        return _tables(con, schema)
    finally:
        con.close()


def read_known_state(work_db: Path) -> KnownState:
    if not work_db.exists():
        return KnownState()
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        tables = _tables(con, DATASET_NAME)
        final_loads: frozenset[str] = frozenset()
        if "file_loads" in tables:
            final_loads = frozenset(
                row[0]
                for row in con.execute(
                    f"select file_id from {DATASET_NAME}.file_loads where is_final"
                ).fetchall()
            )
        last_status: dict[str, tuple[str, float | None]] = {}
        if "batch_status_history" in tables:
            rows = con.execute(
                f"""
                select batch_id, status, progress
                from {DATASET_NAME}.batch_status_history
                qualify row_number() over (partition by batch_id order by observed_at desc) = 1
                """
            ).fetchall()
            last_status = {batch_id: (status, progress) for batch_id, status, progress in rows}
        return KnownState(
            final_loads=final_loads,
            last_status=last_status,
            batch_hashes=_record_hashes(con, "batches"),
            file_hashes=_record_hashes(con, "files"),
            endpoint_hashes=_record_hashes(con, "endpoints"),
            tables=tables,
        )
    finally:
        con.close()


def _record_hashes(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """id -> record_hash of the rows as last written (none before the column existed)."""
    has_column = con.execute(
        "select count(*) from information_schema.columns "
        "where table_schema = ? and table_name = ? and column_name = 'record_hash'",
        [DATASET_NAME, table],
    ).fetchone()
    if not has_column or not has_column[0]:
        return {}
    rows = con.execute(
        f"select id, record_hash from {DATASET_NAME}.{table} where record_hash is not null"
    ).fetchall()
    return {str(row_id): str(digest) for row_id, digest in rows}


def drop_load_staging(work_db: Path, datasets: tuple[str, ...]) -> None:
    """Drop dlt's merge staging schemas (`<dataset>_staging`): scratch space that BI users
    should not see. dlt recreates them on its next merge."""
    con = duckdb.connect(str(work_db))
    try:
        for dataset in datasets:
            con.execute(f'drop schema if exists "{dataset}_staging" cascade')
        # Hand the next process (the dbt child) a file with no write-ahead log to replay.
        con.execute("checkpoint")
    finally:
        con.close()


def publish(work_db: Path, published: Path) -> PublishResult:
    """Make `published` show the working copy's current state, atomically.

    The new state is written into a generation file in `<work dir>/published/`, which is then
    hard-linked over `published` with one rename: readers that have the old file open keep
    their snapshot, new readers get the new one, nobody sees a half state, and ingest never
    waits for a reader. The generation file written is the one readers left before the last
    publish (none of them still has it open, or DuckDB's lock would say so), brought up to date
    by copying only the rows written since it was published; otherwise a new generation is a
    full copy of the working database.
    """
    if published.exists():
        # Refuse before copying anything when the file is held open for writing.
        probe = duckdb.connect()
        try:
            _attach_published(probe, published)
        finally:
            probe.close()
    con = duckdb.connect(str(work_db))
    try:
        con.execute("checkpoint")
        marks = _marks(con)
    finally:
        con.close()
    published.parent.mkdir(parents=True, exist_ok=True)
    generations = work_db.parent / GENERATIONS_DIR
    generations.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(published)
    current = published.stat().st_ino if published.exists() else None
    target, strategy = None, "copy"
    for candidate in _generations(generations):
        if candidate.path.stat().st_ino == current or candidate.marks is None:
            continue
        if not candidate.marks.still_match(candidate.path):
            continue  # written since it was published: not what its marks say
        if not _sync_pays(work_db, candidate.marks):
            continue  # most rows are new (a full rebuild): copying the file is cheaper
        candidate.sidecar.unlink()  # a crash mid-sync must not leave it looking current
        try:
            _sync(work_db, candidate.path, candidate.marks)
        except duckdb.IOException:
            continue  # a reader still has it open: leave it to them
        except duckdb.Error:
            candidate.path.unlink()  # not what its marks said: never reuse it
            continue
        target, strategy = candidate.path, "sync"
        break
    if target is None:
        # A full copy: the generations it passed over go first (readers that have one open
        # keep reading it), so that the disk holds the working file, the published one and
        # this copy, not one more full file besides.
        _forget_old_generations(generations, keep=set(_same_inode(generations, current)))
        target = generations / f"gen-{_next_number(generations)}.duckdb"
        try:
            shutil.copyfile(work_db, target)
            # On disk before the users' objects are carried over: the window in which a
            # change of theirs to the published file could be missed is then short.
            with target.open("rb") as fh:
                os.fsync(fh.fileno())
        except BaseException:
            target.unlink(missing_ok=True)  # a full disk must not keep a partial copy
            raise
    _carry_users_objects(published, target)
    with target.open("rb") as fh:
        os.fsync(fh.fileno())
    _write_marks(target, marks)
    _swap_in(target, published)
    _forget_old_generations(generations, keep={target, *_same_inode(generations, current)})
    return PublishResult(strategy=strategy, path=target)


GENERATIONS_DIR = "published"


def _carry_users_objects(published: Path, target: Path) -> list[str]:
    """Copy into `target` what users made in the published file: the ANALYST_SCHEMA as it is,
    and any other table that batchledger did not make (it is not in `target`, which holds
    everything batchledger makes) into ANALYST_SCHEMA as `<schema>__<name>`, with a warning.
    Views are re-created, never run here; one that does not bind (or was made outside the
    ANALYST_SCHEMA) keeps its SQL in `ANALYST_SCHEMA.unbound_views`. Returns what was moved.

    Names come from users: they are only ever quoted identifiers, and the connection loses
    file and network access once both files are attached, so nothing a user wrote can read
    or write anything else."""
    if not published.exists():
        return []
    con = duckdb.connect(config={"memory_limit": duckdb_memory_limit()})
    try:
        _attach_published(con, published)
        con.execute(f"attach {_literal(target)} as target")
        con.execute("set enable_external_access = false")
        listing = (
            "select schema_name, table_name, false from duckdb_tables() where database_name = ? "
            "union all select schema_name, view_name, true from duckdb_views() "
            "where database_name = ? and not internal"
        )
        ours = {(str(s), str(n)) for s, n, _ in con.execute(listing, ["target"] * 2).fetchall()}
        theirs = sorted(
            (str(schema), str(name), bool(is_view))
            for schema, name, is_view in con.execute(listing, ["old"] * 2).fetchall()
            if (str(schema), str(name)) not in ours and str(schema) != SCOPE_SCHEMA
        )
        if not theirs:
            return []
        con.execute(f"create schema if not exists target.{_ident(ANALYST_SCHEMA)}")
        sql_of = {
            (str(schema), str(name)): str(sql)
            for schema, name, sql in con.execute(
                "select schema_name, view_name, sql from duckdb_views() "
                "where database_name = 'old' and not internal"
            ).fetchall()
        }
        con.execute("use target")
        kept: list[str] = []
        views: list[str] = []
        # SQL kept as text: what earlier publishes saved, and views made outside the schema.
        saved: list[str] = []
        # Lowercase, as DuckDB compares names; unbound_views is ours, written last.
        taken = {name.lower() for schema, name in ours if schema == ANALYST_SCHEMA}
        taken.add(UNBOUND_VIEWS)
        for schema, name, is_view in theirs:
            if schema == ANALYST_SCHEMA and is_view:
                views.append(sql_of[(schema, name)])
                continue
            if schema == ANALYST_SCHEMA and name.lower() == UNBOUND_VIEWS:
                earlier = _saved_sql(con, name)
                if earlier is not None:
                    saved += earlier
                    continue
            if is_view:
                saved.append(sql_of[(schema, name)])
                kept.append(f"{schema}.{name}")
                log.warning(
                    "view %s.%s was made outside batchledger in %s; its SQL is kept in "
                    "%s.unbound_views. Make your own views in the %s schema.",
                    schema,
                    name,
                    published.name,
                    ANALYST_SCHEMA,
                    ANALYST_SCHEMA,
                )
                continue
            new_name = name if schema == ANALYST_SCHEMA else f"{schema}__{name}"
            while new_name.lower() in taken:
                new_name += "_"  # never over another kept object
            taken.add(new_name.lower())
            con.execute(
                f"create table target.{_ident(ANALYST_SCHEMA)}.{_ident(new_name)} as "
                f"select * from old.{_ident(schema)}.{_ident(name)}"
            )
            if schema != ANALYST_SCHEMA:
                kept.append(f"{schema}.{name}")
                log.warning(
                    "%s.%s was made outside batchledger in %s; a publish replaces that "
                    "schema, so it is kept as %s.%s. Make your own tables in the %s schema.",
                    schema,
                    name,
                    published.name,
                    ANALYST_SCHEMA,
                    new_name,
                    ANALYST_SCHEMA,
                )
        unbound = _create_in_passes(con, views, strict=False)
        if unbound:
            # A view over a column a rebuild removed: its SQL is kept, never dropped.
            log.warning(
                "%d view(s) of the %s schema could not be re-created: they no longer bind to "
                "the new marts, or read a file or URL (a publish opens neither). Their SQL is "
                "in %s.unbound_views",
                len(unbound),
                ANALYST_SCHEMA,
                ANALYST_SCHEMA,
            )
        if saved or unbound:
            _save_unbound(con, saved + unbound)
        con.execute("checkpoint target")
        return kept
    finally:
        con.close()


UNBOUND_VIEWS = "unbound_views"


def _save_unbound(con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
    table = f"target.{_ident(ANALYST_SCHEMA)}.{UNBOUND_VIEWS}"
    con.execute(f"create table {table} (sql varchar)")
    con.executemany(f"insert into {table} values (?)", [[sql] for sql in statements])


def _saved_sql(con: duckdb.DuckDBPyConnection, name: str) -> list[str] | None:
    """The statements an earlier publish kept in the published file's unbound_views, or None
    when that table is not of our making (a user's table of that name is copied like any)."""
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where database_name = 'old' and schema_name = ? and table_name = ?",
        [ANALYST_SCHEMA, name],
    ).fetchall()
    if columns != [("sql", "VARCHAR")]:
        return None
    table = f"old.{_ident(ANALYST_SCHEMA)}.{_ident(name)}"
    rows = con.execute(f"select sql from {table} where sql is not null").fetchall()
    return [str(row[0]) for row in rows]


def _attach_published(con: duckdb.DuckDBPyConnection, published: Path) -> None:
    """Attach the published file read-only as `old`; refuse while another program holds it
    open for writing (its users' tables could not be read, so it must not be replaced)."""
    try:
        con.execute(f"attach {_literal(published)} as old (read_only)")
    except duckdb.IOException as exc:
        raise WarehouseBusyError(
            f"{published} is open for writing in another program, so its users' tables "
            f"could not be carried over: it was not replaced. Close it and run again. ({exc})"
        ) from None


def _ident(name: str) -> str:
    """A quoted SQL identifier, whatever characters the name holds."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class PublishResult:
    strategy: str  # "sync" (rows written since an earlier publish) or "copy" (the whole file)
    path: Path


@dataclass(frozen=True)
class _Marks:
    """How far a generation file is: the newest dlt load and dbt build it holds, and the file's
    size and modification time when it was published (a file written since, say by a reader
    that opened it read-write, is never synced: only copied over)."""

    loaded_through: str
    built_through: str
    size: int = -1
    mtime_ns: int = -1

    def still_match(self, path: Path) -> bool:
        stat = path.stat()
        return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


@dataclass(frozen=True)
class _Generation:
    path: Path
    marks: _Marks | None

    @property
    def sidecar(self) -> Path:
        return self.path.with_suffix(".json")


def _marks(con: duckdb.DuckDBPyConnection) -> _Marks:
    from batchledger.build_state import newest_load_id

    built = ""
    row = con.execute("select current_database()").fetchone()
    catalog = str(row[0]) if row else ""
    if _has_table(con, catalog, "marts", "fct_batch_items"):
        row = con.execute(
            f'select max(_build_id) from "{catalog}".marts.fct_batch_items'
        ).fetchone()
        built = str(row[0]) if row and row[0] else ""
    return _Marks(loaded_through=newest_load_id(con), built_through=built)


def _has_table(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from duckdb_tables() "
        "where database_name = ? and schema_name = ? and table_name = ?",
        [catalog, schema, table],
    ).fetchone()
    return bool(row and row[0])


def _generations(folder: Path) -> list[_Generation]:
    """Generation files, newest first, with their marks (None when unreadable or missing)."""
    found = []
    for path in folder.glob("gen-*.duckdb"):
        marks = None
        with suppress(OSError, ValueError, TypeError):
            marks = _Marks(**json.loads(path.with_suffix(".json").read_text(encoding="utf-8")))
        found.append(_Generation(path, marks))
    return sorted(found, key=lambda g: _number(g.path), reverse=True)


def _number(path: Path) -> int:
    suffix = path.stem.removeprefix("gen-")
    return int(suffix) if suffix.isdigit() else -1


def _next_number(folder: Path) -> int:
    return 1 + max((_number(path) for path in folder.glob("gen-*.duckdb")), default=0)


def _write_marks(target: Path, marks: _Marks) -> None:
    stat = target.stat()
    marks = replace(marks, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    sidecar = target.with_suffix(".json")
    tmp = sidecar.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(marks)), encoding="utf-8")
    os.replace(tmp, sidecar)


def _sync(work_db: Path, target: Path, since: _Marks) -> None:
    """Bring `target` (a copy of the working database as of `since`) up to date with it: the
    item mart and the raw line tables by the rows written since, everything else whole."""
    con = duckdb.connect(config={"memory_limit": duckdb_memory_limit()})
    try:
        con.execute(f"attach {_literal(work_db)} as work (read_only)")
        con.execute(f"attach {_literal(target)} as target")
        con.execute("use target")
        # No transaction: the generation has no marks while this runs, so a sync that stops
        # half-way is never published nor synced from again (and a failed statement would
        # abort a transaction, where a view that cannot bind yet is retried below).
        for view_schema, view in con.execute(
            "select schema_name, view_name from duckdb_views() "
            "where database_name = 'target' and not internal"
        ).fetchall():
            con.execute(f'drop view "{view_schema}"."{view}"')
        schemas = _names(con, "select schema_name from duckdb_schemas() where database_name = ?")
        for schema in schemas["work"] - schemas["target"]:
            con.execute(f'create schema "{schema}"')
        tables = _names(
            con,
            "select schema_name || '.' || table_name from duckdb_tables() where database_name = ?",
        )
        for name in tables["target"] - tables["work"]:
            con.execute(f"drop table target.{_quoted(name)}")
        for name in sorted(tables["work"]):
            _sync_table(con, name, since)
        for schema in schemas["target"] - schemas["work"]:
            con.execute(f'drop schema "{schema}" cascade')
        _create_views(con)
        con.execute("checkpoint target")
    finally:
        con.close()


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _names(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, set[str]]:
    return {
        catalog: {str(row[0]) for row in con.execute(sql, [catalog]).fetchall()}
        for catalog in ("work", "target")
    }


def _quoted(name: str) -> str:
    schema, table = name.split(".", 1)
    return f"{_ident(schema)}.{_ident(table)}"


def _sync_table(con: duckdb.DuckDBPyConnection, name: str, since: _Marks) -> None:
    source, target = f"work.{_quoted(name)}", f"target.{_quoted(name)}"
    columns = _columns_of(con, "work", name)
    if columns != _columns_of(con, "target", name):
        con.execute(f"create or replace table {target} as select * from {source}")
        return
    rule = _sync_rule({column for column, _ in columns}, since)
    if rule is None:
        con.execute(f"delete from {target}")
        con.execute(f"insert into {target} select * from {source}")
        return
    synced = _synced_rows(source, rule)
    con.execute(f"delete from {target} where {synced}")
    con.execute(f"insert into {target} select * from {source} where {synced}")
    counts = con.execute(f"select (select count(*) from {source}), (select count(*) from {target})")
    row = counts.fetchone()
    if row is None or row[0] != row[1]:
        raise duckdb.InvalidInputException(f"{name}: {row} rows after sync")


def _sync_rule(names: set[str], since: _Marks) -> tuple[str, str] | None:
    """How a table with columns `names` is synced: (key, predicate of the rows written since
    `since`), all rows of a key written again; None when the table is copied whole."""
    if {"batch_id", "_build_id"} <= names and since.built_through:
        return "batch_id", f"_build_id > '{since.built_through}'"
    if {"file_id", "line_number", "_dlt_load_id"} <= names and since.loaded_through:
        return "file_id", f"_dlt_load_id > '{since.loaded_through}'"
    return None


# A sync moves rows through SQL, about ten times slower per row than copying the file: at 10M
# items, syncing the item mart's 10M rows after a full rebuild took 27 s, copying the whole
# 1.8 GB file (30M rows, raw tables included) 7.4 s with its fsync. A sync that would move more
# than this share of the rows copies the file instead; small ones always sync.
SYNC_MAX_SHARE = 0.1
SYNC_MIN_ROWS = 100_000


def _synced_rows(table: str, rule: tuple[str, str]) -> str:
    """A predicate on `table`'s rows that a sync writes again: every row of a key (batch or
    file) with any row written since, so a key's rows are replaced together."""
    key, written = rule
    return f"{key} in (select distinct {key} from {table} where {written})"


def _sync_pays(work_db: Path, since: _Marks) -> bool:
    """Whether syncing a generation as of `since` moves few enough rows to beat a copy."""
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        tables = con.execute(
            "select c.schema_name, c.table_name, list(c.column_name) from duckdb_columns() as c "
            "join duckdb_tables() as t using (database_name, schema_name, table_name) "
            "where c.database_name = current_database() group by all"
        ).fetchall()
        changed = total = 0
        for schema, table, columns in tables:
            name = f"{_ident(str(schema))}.{_ident(str(table))}"
            rows = _count(con, f"select count(*) from {name}")
            rule = _sync_rule({str(c) for c in columns}, since)
            if rule is None:
                changed += rows
            else:
                changed += _count(
                    con, f"select count(*) from {name} where {_synced_rows(name, rule)}"
                )
            total += rows
        return changed < SYNC_MIN_ROWS or changed <= SYNC_MAX_SHARE * total
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _columns_of(con: duckdb.DuckDBPyConnection, catalog: str, name: str) -> list[tuple[str, str]]:
    schema, table = name.split(".", 1)
    return [
        (str(column), str(kind))
        for column, kind in con.execute(
            "select column_name, data_type from duckdb_columns() "
            "where database_name = ? and schema_name = ? and table_name = ? "
            "order by column_index",
            [catalog, schema, table],
        ).fetchall()
    ]


def _create_views(con: duckdb.DuckDBPyConnection) -> None:
    """The working copy's views, created in the target."""
    _create_in_passes(
        con,
        [
            str(sql)
            for (sql,) in con.execute(
                "select sql from duckdb_views() where database_name = 'work' and not internal"
            ).fetchall()
        ],
    )


def _create_in_passes(
    con: duckdb.DuckDBPyConnection, pending: list[str], *, strict: bool = True
) -> list[str]:
    """Run `create view` statements; a view binds only once what it reads exists, so views
    over views take a few passes. Returns those that never bind (`strict`: raises)."""
    while pending:
        failed = []
        for sql in pending:
            try:
                con.execute(sql)
            except duckdb.Error as exc:
                if strict and not isinstance(exc, duckdb.CatalogException | duckdb.BinderException):
                    raise
                failed.append(sql)
        if len(failed) == len(pending):
            if strict:
                raise duckdb.InvalidInputException(f"{len(failed)} view(s) could not be created")
            return failed
        pending = failed
    return []


def _swap_in(target: Path, published: Path) -> None:
    """Hard-link `target` beside `published` and rename the link over it: one atomic step."""
    link = published.with_name(f".{published.name}.{os.getpid()}.publishing")
    link.unlink(missing_ok=True)
    try:
        try:
            os.link(target, link)
        except OSError:
            # Another filesystem (a linked .work folder): publish a copy instead.
            shutil.copyfile(target, link)
            with link.open("rb") as fh:
                os.fsync(fh.fileno())
        os.replace(link, published)
        # A log left by a writer that was killed before it checkpointed belongs to the old
        # file, whose state (its users' tables included) the new one already carries: left
        # here, DuckDB would replay it onto the new file.
        published.with_name(published.name + ".wal").unlink(missing_ok=True)
        directory = os.open(published.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        link.unlink(missing_ok=True)


def _same_inode(folder: Path, inode: int | None) -> list[Path]:
    return [path for path in folder.glob("gen-*.duckdb") if path.stat().st_ino == inode]


def _forget_old_generations(folder: Path, keep: set[Path]) -> None:
    """Keep the new generation and the one it replaced (the next publish syncs into that one
    once its readers are gone); readers of older ones keep reading after the unlink."""
    for path in folder.glob("gen-*.duckdb"):
        if path not in keep:
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
    for leftover in folder.glob("gen-*.json"):
        if leftover.with_suffix(".duckdb") not in keep:
            leftover.unlink(missing_ok=True)


def _remove_leftovers(published: Path) -> None:
    """Links from a publish that was killed before its rename."""
    for leftover in published.parent.glob(f".{published.name}.*.publishing"):
        pid = leftover.name.removeprefix(f".{published.name}.").split(".")[0]
        if not (pid.isdigit() and _alive(int(pid))):
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
