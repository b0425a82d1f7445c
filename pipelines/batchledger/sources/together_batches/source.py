"""The together_batches dlt source: the `batches` resource and the transformers it feeds.

    batches ──┬── batch_status_history   status timeline
              ├── files                  file metadata
              ├── batch_requests         input lines   (+ quarantine, file_loads)
              └── batch_results          result lines  (+ quarantine, file_loads)
    endpoints                            the account's dedicated endpoints

Crash safety rests on one load package per run: dlt extracts every resource of one source into
one package, commits it only once extraction ends, and a run finds a package it did not finish
loading and loads it before anything new. So a file's lines and its file_loads row (which says
"this file is done; never fetch it again") land together or not at all. Keep them in one source.
"""

from __future__ import annotations

import logging
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract.items import DataItemWithMeta
from dlt.extract.resource import DltResource

from batchledger.landing import landing_path
from batchledger.sources.columns import column_hints, empty_table
from batchledger.sources.together_batches.events import FileParsed, FileUnavailable, OnEvent
from batchledger.sources.together_batches.helpers import (
    EMPTY_QUARANTINE,
    FileTally,
    IngestPlan,
    LandedFile,
    PendingFile,
    empty_line_rows,
    file_references,
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
    not_null=("id",),
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
    not_null=("id",),
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
    not_null=("file_id",),
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
ENDPOINT_COLUMNS = column_hints(
    not_null=("id",),
    id="text",
    object="text",
    name="text",
    model="text",
    type="text",
    owner="text",
    state="text",
    created_at="timestamp",
    observed_at="timestamp",
    record_hash="text",
)
STATUS_HISTORY_COLUMNS = column_hints(
    not_null=("batch_id", "observed_at"),
    batch_id="text",
    status="text",
    progress="double",
    observed_at="timestamp",
)
# The line table of each file kind.
LINE_TABLES = {"input": "batch_requests", "output": "batch_results", "error": "batch_results"}


@dataclass(frozen=True)
class SourceOptions:
    landing_dir: Path | None
    scratch_dir: Path
    store_prompts: bool = False
    store_completions: bool = False
    download_concurrency: int = 4
    # Told of each file parsed or given up on, from the thread that runs the extraction.
    on_event: OnEvent | None = None


@dataclass(frozen=True)
class Unchanged:
    """The listed batches whose job object the warehouse already holds as is. They are no rows
    of `batches`, yet their files may still need loading (a running job's output file, a file
    that was unavailable last run, a reprocessed file), so they ride to the transformers as the
    meta of the `batches` item: dlt writes an item's data and hands its meta on to transformers.
    """

    batches: tuple[dict[str, Any], ...]


@dlt.source(name="together_batches", max_table_nesting=0)
def together_batches(
    client: TogetherClient | None, plan: IngestPlan, options: SourceOptions
) -> tuple[DltResource, ...]:
    """The batch jobs, status changes, file metadata and file lines that `plan` found new or
    changed; what the warehouse already holds is not written again.

    The client comes in ready-made so the API key never passes through dlt's config or trace;
    without one (reprocessing), files are read from the landing folder only.
    """
    observed_at = datetime.now(UTC)
    listed = batches(plan, observed_at)
    # meta=None: dlt passes a transformer its item's meta only when `meta` is a bound argument.
    return (
        listed,
        listed | batch_status_history(plan, observed_at, meta=None),
        listed | files(plan, observed_at, meta=None),
        listed | batch_requests(client, plan, options, observed_at, meta=None),
        listed | batch_results(client, plan, options, observed_at, meta=None),
        endpoints(plan, observed_at),
    )


@dlt.resource(
    name="endpoints", write_disposition="merge", primary_key="id", columns=ENDPOINT_COLUMNS
)
def endpoints(plan: IngestPlan, observed_at: datetime) -> Iterator[Any]:
    """One row per dedicated endpoint of the account (GET /v1/endpoints?type=dedicated),
    rewritten only when its object changed, so that jobs on it are recognised as dedicated."""
    rows = [
        {**endpoint, "observed_at": observed_at, "record_hash": record_hash(endpoint)}
        for endpoint in plan.changed_endpoints
    ]
    yield _rows_or_empty(rows, "endpoints", ENDPOINT_COLUMNS, plan)


@dlt.resource(name="batches", write_disposition="merge", primary_key="id", columns=BATCH_COLUMNS)
def batches(plan: IngestPlan, observed_at: datetime) -> Iterator[DataItemWithMeta]:
    """One row per batch job, rewritten only when the job object changed; observed_at is when
    this version of it was first seen. The whole listing is one item: the transformers parse
    the small files of many jobs together (one query, one load item), so they take it at once.
    """
    changed = {str(batch["id"]) for batch in plan.changed_batches}
    rows = [
        {**batch, "observed_at": observed_at, "record_hash": record_hash(batch)}
        for batch in plan.changed_batches
    ]
    unchanged = Unchanged(tuple(b for b in plan.batches if str(b["id"]) not in changed))
    yield DataItemWithMeta(unchanged, _rows_or_empty(rows, "batches", BATCH_COLUMNS, plan))


@dlt.transformer(
    name="batch_status_history",
    write_disposition="merge",
    primary_key=("batch_id", "observed_at"),
    columns=STATUS_HISTORY_COLUMNS,
)
def batch_status_history(
    listed: Any, plan: IngestPlan, observed_at: datetime, meta: Any = None
) -> Iterator[Any]:
    """One row per batch and ingest in which its status or progress changed."""
    ids = _batch_ids(listed, meta)
    rows = [
        {
            "batch_id": batch["id"],
            "status": batch.get("status"),
            "progress": batch.get("progress"),
            "observed_at": observed_at,
        }
        for batch in plan.status_changes
        if str(batch["id"]) in ids
    ]
    yield _rows_or_empty(rows, "batch_status_history", STATUS_HISTORY_COLUMNS, plan)


@dlt.transformer(name="files", write_disposition="merge", primary_key="id", columns=FILE_COLUMNS)
def files(listed: Any, plan: IngestPlan, observed_at: datetime, meta: Any = None) -> Iterator[Any]:
    """Metadata of every file the listed batches refer to (input, output, error), rewritten only
    when it changed."""
    referenced = {file_id for file_id, _, _ in file_references(_listed(listed, meta))}
    rows = [
        {**file, "observed_at": observed_at, "record_hash": record_hash(file)}
        for file in plan.changed_files
        if str(file["id"]) in referenced
    ]
    yield _rows_or_empty(rows, "files", FILE_COLUMNS, plan)


# The two line transformers each write three tables, not one: a file's lines, its unreadable
# lines (quarantine) and its tally (file_loads) come out of one streaming pass over the file.
# Separate transformers for quarantine and file_loads would have to read every file again.
@dlt.transformer(name="batch_requests", write_disposition="merge", primary_key=LINE_KEY)
def batch_requests(
    listed: Any,
    client: TogetherClient | None,
    plan: IngestPlan,
    options: SourceOptions,
    observed_at: datetime,
    meta: Any = None,
) -> Iterator[Any]:
    """Every line of the listed batches' pending input files; unreadable lines go to quarantine,
    and each file's tally to file_loads, after its lines."""
    yield from _file_lines("input", _batch_ids(listed, meta), client, plan, options, observed_at)


@dlt.transformer(name="batch_results", write_disposition="merge", primary_key=LINE_KEY)
def batch_results(
    listed: Any,
    client: TogetherClient | None,
    plan: IngestPlan,
    options: SourceOptions,
    observed_at: datetime,
    meta: Any = None,
) -> Iterator[Any]:
    """Every line of the listed batches' pending output and error files; unreadable lines go to
    quarantine, and each file's tally to file_loads, after its lines."""
    yield from _file_lines("output", _batch_ids(listed, meta), client, plan, options, observed_at)


def _listed(rows: Any, meta: Any) -> list[dict[str, Any]]:
    """Every listed batch: the rows `batches` wrote (an Arrow table is the empty one that
    creates the table) and the unchanged ones in its meta."""
    written = rows if isinstance(rows, list) else []
    unchanged = meta.batches if isinstance(meta, Unchanged) else ()
    return [*written, *unchanged]


def _batch_ids(rows: Any, meta: Any) -> set[str]:
    return {str(batch["id"]) for batch in _listed(rows, meta)}


def _rows_or_empty(
    rows: list[dict[str, Any]], table: str, hints: dict[str, Any], plan: IngestPlan
) -> list[dict[str, Any]] | pa.Table:
    """The rows; none on an account without the table yet: an empty table creates it."""
    return empty_table(hints) if not rows and table not in plan.tables else rows


def _file_lines(
    kind: str,
    batch_ids: set[str],
    client: TogetherClient | None,
    plan: IngestPlan,
    options: SourceOptions,
    observed_at: datetime,
) -> Iterator[Any]:
    """The lines of the pending files of `kind`'s table that belong to `batch_ids`, downloaded a
    window at a time and parsed many small files per query, so that an account of thousands of
    small jobs does not pay a query and a load item per file."""
    table = LINE_TABLES[kind]
    pending = [
        item
        for item in plan.pending
        if LINE_TABLES[item.file_kind] == table and item.batch_id in batch_ids
    ]
    written: set[str] = set()  # the tables this transformer gave rows to
    window: list[tuple[PendingFile, Download]] = []
    window_bytes = 0
    for item, download in _download_all(client, pending, plan.file_metadata, options):
        window.append((item, download))
        window_bytes += download.bytes
        if len(window) >= GROUP_MAX_FILES or window_bytes >= GROUP_MAX_BYTES:
            yield from _load_window(window, table, options, observed_at, written)
            window, window_bytes = [], 0
    yield from _load_window(window, table, options, observed_at, written)
    # A table with no row yet is created empty, so that queries of it run from day one (the
    # other line transformer may create quarantine or file_loads too: an empty table is no row).
    if table not in plan.tables and table not in written:
        yield empty_line_rows(kind)
    if "quarantine" not in plan.tables and "quarantine" not in written:
        yield dlt.mark.with_table_name(EMPTY_QUARANTINE, "quarantine")
    if "file_loads" not in plan.tables and "file_loads" not in written:
        yield _file_loads(empty_table(FILE_LOAD_COLUMNS))


def _load_window(
    window: list[tuple[PendingFile, Download]],
    table: str,
    options: SourceOptions,
    observed_at: datetime,
    written: set[str],
) -> Iterator[Any]:
    """Parse the window's files in groups, yielding their rows, then one file_loads row each."""
    downloads = {item.file_id: (item, download) for item, download in window}
    landed = [
        LandedFile(download.path, item.batch_id, item.file_id, item.file_kind)
        for item, download in window
    ]
    is_input = table == "batch_requests"
    for group in group_files(landed):
        tallies: dict[str, FileTally] = {}
        for chunk in parse_files(
            group,
            store_text=options.store_prompts if is_input else options.store_completions,
            tallies=tallies,
            temp_dir=options.scratch_dir,
        ):
            if chunk.rows.num_rows:
                written.add(table)
                yield chunk.rows
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
            if options.on_event:
                options.on_event(FileParsed(item, download.bytes))
            if options.landing_dir is None:
                download.path.unlink(missing_ok=True)


def _file_loads(rows: Any) -> Any:
    """file_loads rows (or an empty table) with that table's own hints: they travel in a line
    transformer, whose merge key is a line's."""
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


def _download_all(
    client: TogetherClient | None,
    pending: list[PendingFile],
    metadata: dict[str, dict[str, Any]],
    options: SourceOptions,
) -> Iterator[tuple[PendingFile, Download]]:
    """Download with bounded concurrency, yielding files in plan order as each one lands.

    A complete landing copy from an earlier run that crashed before its load is reused instead of
    downloaded again; a complete copy is one whose size matches the file's metadata.
    """
    target_dir = options.landing_dir or Path(tempfile.mkdtemp(dir=options.scratch_dir))
    window = max(1, options.download_concurrency) * 2
    queue: deque[tuple[PendingFile, Future[Download | FileUnavailable]]] = deque()
    todo = iter(pending)

    def fetch(item: PendingFile) -> Download | FileUnavailable:
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
            return FileUnavailable(item, f"no landing copy of file {item.file_id}")
        try:
            return client.download_file(
                item.file_id,
                dest,
                batch_id=item.batch_id,
                expected_bytes=expected,
                expected_lines=meta.get("LineCount"),
            )
        except TogetherNotFoundError as exc:
            log.warning("%s", exc)
            return FileUnavailable(item, str(exc))

    with ThreadPoolExecutor(max_workers=max(1, options.download_concurrency)) as pool:
        while True:
            while len(queue) < window and (item := next(todo, None)) is not None:
                queue.append((item, pool.submit(fetch, item)))
            if not queue:
                break
            item, future = queue.popleft()
            # The result is told from this thread, not the pool's: the caller's handler need
            # not be thread-safe.
            result = future.result()
            if isinstance(result, FileUnavailable):
                if options.on_event:
                    options.on_event(result)
            else:
                yield item, result
