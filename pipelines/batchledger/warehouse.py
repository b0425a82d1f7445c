"""The warehouse file: a private working copy that ingest writes, published atomically for readers.

BI tools hold the published DuckDB file open for hours, and DuckDB will not let a writer in while
they do. So ingest writes to `<data>/.work/<name>/warehouse.duckdb`, which no reader opens, and only
a finished build is copied beside the published path and renamed over it. Readers that already have
the old file open keep reading it; new readers get the new one; nobody sees a half-built state.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from batchledger.sources.together_batches.helpers import KnownState
from batchledger.sources.together_batches.settings import DATASET_NAME


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


def prepare_work_db(work_dir: Path, published: Path) -> Path:
    """The working database; seeded from the published file if the working copy was lost."""
    work_db = work_dir / "warehouse.duckdb"
    if not work_db.exists() and published.exists():
        shutil.copyfile(published, work_db)
    return work_db


def read_known_state(work_db: Path) -> KnownState:
    if not work_db.exists():
        return KnownState()
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        tables = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [DATASET_NAME],
            ).fetchall()
        }
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
    finally:
        con.close()


def publish(work_db: Path, published: Path) -> None:
    """Checkpoint the working copy, then copy it beside `published` and rename it into place."""
    con = duckdb.connect(str(work_db))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    published.parent.mkdir(parents=True, exist_ok=True)
    staging = published.with_name(f".{published.name}.{os.getpid()}.publishing")
    try:
        shutil.copyfile(work_db, staging)
        with staging.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(staging, published)
    finally:
        staging.unlink(missing_ok=True)
