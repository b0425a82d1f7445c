"""The together_batches dlt source itself (see the package docstring)."""

from __future__ import annotations

import logging
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from batchledger.landing import landing_path
from batchledger.sources.columns import column_hints, empty_table
from batchledger.sources.together_batches.helpers import (
    EMPTY_QUARANTINE,
    FileTally,
    IngestPlan,
    IngestReport,
    LandedFile,
    PendingFile,
    empty_line_rows,
    group_files,
    parse_files,
    record_hash,
)
from batchledger.sources.together_batches.settings import (
    GROUP_MAX_BYTES,
    GROUP_MAX_FILES,
    LINE_KEY,
)
from batchledger.together import Download, TogetherClient, TogetherNotFoundError
from batchledger.together.client import sha256_file

log = logging.getLogger(__name__)


# Declared so that columns which are null for every row so far still exist for dbt.
BATCH_COLUMNS = column_hints(
    id="text",
    user_id="text",
    input_file_id="text",
    file_size_bytes="bigint",
    status="text",
    job_deadline="timestamp",
    created_at="timestamp",
    endpoint="text",
    progress="double",
    model_id="text",
    output_file_id="text",
    error_file_id="text",
    error="text",
    completed_at="timestamp",
    observed_at="timestamp",
    record_hash="text",
)
FILE_COLUMNS = column_hints(
    id="text",
    object="text",
    created_at="bigint",
    filename="text",
    bytes="bigint",
    purpose="text",
    file_type="text",
    processed="bool",
    line_count="bigint",
    processing_status="text",
    observed_at="timestamp",
    record_hash="text",
)
FILE_LOAD_COLUMNS = column_hints(
    file_id="text",
    batch_id="text",
    file_kind="text",
    is_final="bool",
    lines_total="bigint",
    lines_loaded="bigint",
    lines_quarantined="bigint",
    content_bytes="bigint",
    sha256="text",
    loaded_at="timestamp",
)
STATUS_HISTORY_COLUMNS = column_hints(
    batch_id="text", status="text", progress="double", observed_at="timestamp"
)
LINE_TABLES = {"input": "batch_requests", "output": "batch_results", "error": "batch_results"}


@dataclass
class SourceOptions:
    landing_dir: Path | None
    scratch_dir: Path
    store_prompts: bool = False
    store_completions: bool = False
    download_concurrency: int = 4
    on_files_planned: Callable[[int], None] | None = None
    on_file_loaded: Callable[[PendingFile, int], None] | None = None


@dlt.source(name="together_batches", max_table_nesting=0)
def together_batches(
    client: TogetherClient | None,
    options: SourceOptions,
    plan: IngestPlan,
    report: IngestReport | None = None,
) -> tuple[DltResource, ...]:
    """The batch jobs, status changes, file metadata and file lines that `plan` found new or
    changed; what the warehouse already holds is not written again.

    The client comes in ready-made so the API key never passes through dlt's config or trace;
    without one (reprocessing), files are read from the landing folder only.
    """
    report = report if report is not None else IngestReport()
    report.batches = plan.batches
    observed_at = datetime.now(UTC)
    written: set[str] = set()  # the tables this run wrote rows to

    def _absent(table: str) -> bool:
        """Whether `table` would still not exist after this run: none of it yet, no row now."""
        return table not in plan.tables and table not in written

    def _rows_or_empty(rows: list[dict[str, Any]], table: str, hints: dict[str, Any]) -> Any:
        """The rows; none on an account without the table yet: an empty table creates it."""
        if rows:
            written.add(table)
        return empty_table(hints) if _absent(table) else rows

    @dlt.resource(
        name="batches",
        write_disposition="merge",
        primary_key="id",
        columns=BATCH_COLUMNS,
    )
    def batches() -> Iterator[Any]:
        """One row per batch job, rewritten only when the job object changed; observed_at is
        when this version of it was first seen."""
        rows = [
            {**batch, "observed_at": observed_at, "record_hash": record_hash(batch)}
            for batch in plan.changed_batches
        ]
        yield _rows_or_empty(rows, "batches", BATCH_COLUMNS)

    @dlt.resource(
        name="batch_status_history",
        write_disposition="merge",
        primary_key=("batch_id", "observed_at"),
        columns=STATUS_HISTORY_COLUMNS,
    )
    def batch_status_history() -> Iterator[Any]:
        """One row per batch and ingest in which its status or progress changed."""
        report.status_changes = len(plan.status_changes)
        rows = [
            {
                "batch_id": batch["id"],
                "status": batch.get("status"),
                "progress": batch.get("progress"),
                "observed_at": observed_at,
            }
            for batch in plan.status_changes
        ]
        yield _rows_or_empty(rows, "batch_status_history", STATUS_HISTORY_COLUMNS)

    @dlt.resource(name="files", write_disposition="merge", primary_key="id", columns=FILE_COLUMNS)
    def files() -> Iterator[Any]:
        """Metadata of every file a batch refers to (input, output, error), rewritten only when
        it changed."""
        rows = [
            {**meta, "observed_at": observed_at, "record_hash": record_hash(meta)}
            for meta in plan.changed_files
        ]
        yield _rows_or_empty(rows, "files", FILE_COLUMNS)

    @dlt.resource(
        name="batch_file_lines",
        write_disposition="merge",
        primary_key=LINE_KEY,
        max_table_nesting=0,
    )
    def batch_file_lines() -> Iterator[Any]:
        """Every line of every pending file: batch_requests (input lines), batch_results (output
        and error lines) and quarantine (lines that cannot be read), plus one file_loads row per
        file, written in the same load so a crash never records a file whose lines are missing.

        Downloads are parsed a window at a time, many small files per query, so an account of
        thousands of small jobs does not pay a query and a load item per file."""
        pending = plan.pending
        if options.on_files_planned:
            options.on_files_planned(len(pending))
        window: list[tuple[PendingFile, Download]] = []
        window_bytes = 0
        for item, download in _download_all(client, pending, plan.file_metadata, options, report):
            window.append((item, download))
            window_bytes += download.bytes
            if len(window) >= GROUP_MAX_FILES or window_bytes >= GROUP_MAX_BYTES:
                yield from _load_window(window)
                window, window_bytes = [], 0
        yield from _load_window(window)
        # A table with no row yet is created empty, so that queries of it run from day one.
        for kind in ("input", "output"):
            if _absent(LINE_TABLES[kind]):
                yield dlt.mark.with_table_name(empty_line_rows(kind), LINE_TABLES[kind])
        if _absent("quarantine"):
            yield dlt.mark.with_table_name(EMPTY_QUARANTINE, "quarantine")
        if _absent("file_loads"):
            yield _file_loads(empty_table(FILE_LOAD_COLUMNS))

    def _load_window(window: list[tuple[PendingFile, Download]]) -> Iterator[Any]:
        downloads = {item.file_id: (item, download) for item, download in window}
        landed = [
            LandedFile(download.path, item.batch_id, item.file_id, item.file_kind)
            for item, download in window
        ]
        for group in group_files(landed):
            is_input = group[0].file_kind == "input"
            tallies: dict[str, FileTally] = {}
            for chunk in parse_files(
                group,
                store_text=options.store_prompts if is_input else options.store_completions,
                tallies=tallies,
                temp_dir=options.scratch_dir,
            ):
                if chunk.rows.num_rows:
                    table = LINE_TABLES["input" if is_input else "output"]
                    written.add(table)
                    yield dlt.mark.with_table_name(chunk.rows, table)
                if chunk.quarantine.num_rows:
                    written.add("quarantine")
                    yield dlt.mark.with_table_name(chunk.quarantine, "quarantine")
            loads = []
            for one in group:
                item, download = downloads[one.file_id]
                tally = tallies[one.file_id]
                loads.append(
                    {
                        "file_id": item.file_id,
                        "batch_id": item.batch_id,
                        "file_kind": item.file_kind,
                        "is_final": item.is_final,
                        "lines_total": tally.lines_total,
                        "lines_loaded": tally.lines_loaded,
                        "lines_quarantined": tally.lines_quarantined,
                        "content_bytes": download.bytes,
                        "sha256": download.sha256,
                        "loaded_at": observed_at,
                    }
                )
            written.add("file_loads")
            yield _file_loads(loads)
            for one in group:
                item, download = downloads[one.file_id]
                report.add_tally(LINE_TABLES[item.file_kind], item, tallies[one.file_id])
                if options.on_file_loaded:
                    options.on_file_loaded(item, download.bytes)
                if options.landing_dir is None:
                    download.path.unlink(missing_ok=True)

    def _file_loads(rows: Any) -> Any:
        """file_loads rows (or an empty table) with that table's own hints: they travel in
        batch_file_lines, whose merge key is a line's."""
        return dlt.mark.with_hints(
            rows,
            dlt.mark.make_hints(
                table_name="file_loads",
                write_disposition="merge",
                primary_key="file_id",
                columns=FILE_LOAD_COLUMNS,
            ),
            create_table_variant=True,
        )

    return batches, batch_status_history, files, batch_file_lines


def _download_all(
    client: TogetherClient | None,
    pending: list[PendingFile],
    metadata: dict[str, dict[str, Any]],
    options: SourceOptions,
    report: IngestReport,
) -> Iterator[tuple[PendingFile, Download]]:
    """Download with bounded concurrency, yielding files in plan order as each one lands.

    A complete landing copy from an earlier run that crashed before its load is reused instead of
    downloaded again; a complete copy is one whose size matches the file's metadata.
    """
    target_dir = options.landing_dir or Path(tempfile.mkdtemp(dir=options.scratch_dir))
    window = max(1, options.download_concurrency) * 2
    queue: deque[tuple[PendingFile, Future[Download | None]]] = deque()
    todo = iter(pending)

    def fetch(item: PendingFile) -> Download | None:
        dest = landing_path(target_dir, item.file_id)
        meta = metadata.get(item.file_id, {})
        expected = meta.get("bytes")
        if item.is_final and dest.exists() and dest.stat().st_size == expected:
            return Download(path=dest, bytes=expected, sha256=sha256_file(dest))
        if client is None:
            # Reprocessing: the landing folder only, never the API. A landing copy is whole by
            # construction (downloads are renamed into place once checked).
            if dest.exists():
                size = dest.stat().st_size
                return Download(path=dest, bytes=size, sha256=sha256_file(dest))
            report.unavailable_files.append(f"no landing copy of file {item.file_id}")
            return None
        try:
            download = client.download_file(
                item.file_id,
                dest,
                batch_id=item.batch_id,
                expected_bytes=expected,
                expected_lines=meta.get("LineCount"),
            )
        except TogetherNotFoundError as exc:
            log.warning("%s", exc)
            report.unavailable_files.append(str(exc))
            return None
        report.bytes_downloaded += download.bytes
        return download

    with ThreadPoolExecutor(max_workers=max(1, options.download_concurrency)) as pool:
        while True:
            while len(queue) < window and (item := next(todo, None)) is not None:
                queue.append((item, pool.submit(fetch, item)))
            if not queue:
                break
            item, future = queue.popleft()
            download = future.result()
            if download is not None:
                yield item, download
