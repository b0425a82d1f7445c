"""`batchledger reprocess`: load landed files again, without the API, after a fix.

When a parsing rule changes (a new batchledger version reads a line it quarantined before), the
files already in the landing folder are parsed again and their lines replace the old ones; then
the marts are rebuilt for the batches they belong to. No request reaches the API: the jobs and
file metadata come from the warehouse itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb

from batchledger.build import BuildError, build_and_publish
from batchledger.ingest import (
    IngestError,
    IngestResult,
    OnLoadEvent,
    load_raw,
    quiet_third_parties,
)
from batchledger.landing import landing_path
from batchledger.settings import Settings
from batchledger.sources.together_batches.helpers import plan_ingest
from batchledger.sources.together_batches.settings import DATASET_NAME
from batchledger.warehouse import ingest_lock, publish, read_known_state

# The raw tables that hold a file's lines, and the table that records the file as loaded.
LINE_TABLES = ("batch_requests", "batch_results", "quarantine")


def reprocess(
    settings: Settings,
    work_db: Path,
    file_ids: Sequence[str] = (),
    *,
    build: bool = True,
    on_event: OnLoadEvent | None = None,
) -> IngestResult:
    """Parse again the landed copies of `file_ids` (every loaded file when empty); `on_event`
    follows the load (the CLI draws the bar from the events)."""
    quiet_third_parties()
    started = time.monotonic()
    if settings.landing_dir is None:
        raise IngestError(
            "Reprocessing reads the landing folder, and BATCHLEDGER_KEEP_LANDING=false keeps none"
        )
    with ingest_lock(settings.work_dir):
        batches, files = _listing(work_db)
        landing_dir = settings.landing_dir
        chosen = [
            file_id
            for file_id in (file_ids or _loaded_files(work_db))
            if landing_path(landing_dir, file_id).exists()
        ]
        missing = sorted(set(file_ids) - set(chosen))
        if missing:
            raise IngestError(f"No landing copy of: {', '.join(missing)}")
        _forget_loads(work_db, chosen)
        plan = plan_ingest(batches, files, read_known_state(work_db), lambda *_: None)
        plan = replace(
            plan,
            changed_batches=[],
            status_changes=[],
            changed_files=[],
            pending=[item for item in plan.pending if item.file_id in set(chosen)],
        )
        report = load_raw(settings, work_db, None, plan, on_event)
        result = IngestResult(settings=settings, report=report, build=None, seconds=0.0)
        if not build:
            publish(work_db, settings.db_path)
        else:
            try:
                result.build = build_and_publish(
                    work_db, settings.db_path, work_dir=settings.work_dir, ops_inputs=None
                )
            except BuildError as exc:
                raise IngestError(str(exc)) from None
    result.seconds = time.monotonic() - started
    return result


def _listing(work_db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The jobs and file metadata as the last ingest saw them."""
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        batches = _rows(
            con,
            f"select id, status, input_file_id, output_file_id, error_file_id, "
            f"cast(created_at as varchar) as created_at from {DATASET_NAME}.batches",
        )
        files = _rows(con, f'select id, bytes, line_count as "LineCount" from {DATASET_NAME}.files')
    finally:
        con.close()
    return batches, files


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _loaded_files(work_db: Path) -> list[str]:
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        return [
            str(row[0])
            for row in con.execute(f"select file_id from {DATASET_NAME}.file_loads").fetchall()
        ]
    finally:
        con.close()


def _forget_loads(work_db: Path, file_ids: list[str]) -> None:
    """Remove the files' lines and load records in one transaction: a crash before the reload
    leaves them not loaded, so the next run (or reprocess) loads them again."""
    con = duckdb.connect(str(work_db))
    try:
        present = {
            str(row[0])
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [DATASET_NAME],
            ).fetchall()
        }
        con.execute("begin")
        for table in (*LINE_TABLES, "file_loads"):
            if table in present:
                con.execute(
                    f"delete from {DATASET_NAME}.{table} where file_id in (select unnest($ids))",
                    {"ids": file_ids},
                )
        con.execute("commit")
    finally:
        con.close()
