"""Pure functions of the together_batches source: file-line parsing and change detection.

Files are read in chunks of lines and parsed by DuckDB's JSON functions over Arrow, so a 50,000-line
result file never becomes 50,000 Python dicts and never sits whole in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from batchledger.sources.together_batches.settings import (
    CHUNK_BYTES,
    LINE_KEY,
    QUARANTINE_TEXT_CHARS,
    RESULT_BATCH_ROWS,
    TERMINAL_STATUSES,
)

LINES_SCHEMA = pa.schema([("line_number", pa.int64()), ("raw", pa.large_string())])

# Each line is parsed once, by from_json into just the fields we keep. Leaves that vary in shape
# stay JSON so that an odd value does not reject a billable line.
_INPUT_SHAPE = (
    '{"custom_id": "VARCHAR", "body": {"model": "VARCHAR", "max_tokens": "VARCHAR"}, '
    '"metadata": "JSON"}'
)
_RESULT_SHAPE = (
    '{"id": "VARCHAR", "custom_id": "VARCHAR", "error": "JSON", "response": {"status_code": '
    '"VARCHAR", "body": {"model": "VARCHAR", "created": "VARCHAR", "usage": "JSON", '
    '"error": "JSON", "choices": "JSON"}}}'
)

_INPUT_COLUMNS = """
    doc.custom_id as custom_id,
    doc.body.model as model,
    try_cast(doc.body.max_tokens as bigint) as max_tokens,
    case when json_type(doc.metadata) = 'OBJECT' then doc.metadata::varchar end as metadata,
    octet_length(encode(raw)) as request_bytes,
    case when $store_text and doc is not null then json_extract(raw, '$.body')::varchar end as body,
"""

_RESULT_COLUMNS = """
    $file_kind as file_kind,
    line_number,
    doc.id as result_id,
    doc.custom_id as custom_id,
    try_cast(doc.response.status_code as integer) as status_code,
    case when json_type(doc.response.body.usage) = 'OBJECT'
        then doc.response.body.usage::varchar end as usage,
    doc.response.body.model as model,
    try_cast(doc.response.body.created as bigint) as created,
    doc.response.body.choices->>'$[0].finish_reason' as finish_reason,
    coalesce(doc.error->>'$.code', doc.response.body.error->>'$.code') as error_code,
    coalesce(
        doc.error->>'$.message',
        doc.response.body.error->>'$.message',
        case when json_type(doc.error) = 'VARCHAR' then doc.error->>'$' end
    ) as error_message,
    case when $store_text and doc is not null
        then json_extract_string(raw, '$.response.body.choices[0].message.content') end
        as completion_text,
"""

_PARSE = """
select
    $batch_id as batch_id,
    $file_id as file_id,
    {line_number}
    {columns}
    error,
    case when error is not null then left(raw, {chars}) end as raw_text,
from (
    select
        *,
        case
            when doc is null and not json_valid(raw) then 'invalid JSON'
            -- Cheap checks first: ltrim() copies the line, so it runs only on suspects.
            when coalesce(doc.custom_id, '') = '' and left(ltrim(raw), 1) <> '{{'
                then 'not a JSON object'
            when doc is null then 'unexpected shape'
            when coalesce(doc.custom_id, '') = '' then 'missing custom_id'
        end as error,
    from (
        select
            line_number,
            raw,
            {doc} as doc,
        from chunk
        -- Lines already yielded before a restart, and blank lines, which are not data (trim()
        -- copies, so it only sees lines that start blank).
        where line_number > $after
            and raw <> '' and (left(raw, 1) not in (' ', '\t') or trim(raw) <> '')
    )
)
"""
_QUARANTINE_COLUMNS = ["batch_id", "file_id", "file_kind", "line_number", "error", "raw_text"]


def _parse_sql(file_kind: str, *, guarded: bool) -> str:
    """The parse for one file kind. Unguarded parses each line once and raises on a malformed
    line; guarded validates every line first (try() does not catch malformed JSON), so it is
    used only for the chunks that need it."""
    shape = _INPUT_SHAPE if file_kind == "input" else _RESULT_SHAPE
    doc = f"from_json(raw, '{shape}')"
    if guarded:
        doc = f"case when json_valid(raw) then try({doc}) end"
    if file_kind == "input":
        return _PARSE.format(
            line_number="line_number,", columns=_INPUT_COLUMNS, chars=QUARANTINE_TEXT_CHARS, doc=doc
        )
    # Result columns carry file_kind before line_number, matching the raw table's order.
    return _PARSE.format(
        line_number="", columns=_RESULT_COLUMNS, chars=QUARANTINE_TEXT_CHARS, doc=doc
    )


@dataclass
class ParsedChunk:
    """The rows one chunk of a file contributes to each table."""

    rows: pa.Table
    quarantine: pa.Table


@dataclass
class FileTally:
    lines_total: int = 0
    lines_loaded: int = 0
    lines_quarantined: int = 0
    quarantine_errors: dict[str, int] = field(default_factory=dict)


def iter_line_chunks(path: Path, block_bytes: int = CHUNK_BYTES) -> Iterator[pa.Table]:
    """Physical lines of a JSONL file with 1-based line numbers, one Arrow table per block.

    The file is read `block_bytes` at a time and split at the last newline of each block, so
    memory holds one block however large the file. Blank lines are kept (and skipped later) so
    line numbers match what `sed -n Np` shows. Bytes that are not UTF-8 become U+FFFD, so such a
    line still loads (or is quarantined if it is not JSON) instead of stopping the load.
    """
    next_line = 1
    carry = b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(block_bytes)
            if not block:
                break
            block = carry + block
            cut = block.rfind(b"\n")
            if cut < 0:
                carry = block  # one line longer than a block: keep reading
                continue
            carry = block[cut + 1 :]
            table = _lines_table(block[:cut], next_line)
            next_line += table.num_rows
            yield table
    if carry:
        yield _lines_table(carry, next_line)


def _lines_table(text: bytes, first_line: int) -> pa.Table:
    # Split in Arrow's C++ kernels rather than into Python strings.
    pieces = pc.split_pattern(pa.array([text], pa.large_binary()), b"\n").flatten()
    try:
        lines = pieces.cast(pa.large_string())
    except pa.ArrowInvalid:
        # Not UTF-8 somewhere in this block: replace the bad bytes, line by line.
        lines = pa.array(
            [p.decode("utf-8", errors="replace") for p in pieces.to_pylist()], pa.large_string()
        )
    numbers = pa.array(range(first_line, first_line + len(lines)), pa.int64())
    # Windows line endings: the \r belongs to the newline, not to the JSON.
    return pa.Table.from_arrays([numbers, pc.utf8_rtrim(lines, "\r")], schema=LINES_SCHEMA)


def parse_file(
    path: Path,
    *,
    batch_id: str,
    file_id: str,
    file_kind: str,
    store_text: bool,
    tally: FileTally,
) -> Iterator[ParsedChunk]:
    """Parse a landed file into Arrow chunks for batch_requests or batch_results, and quarantine.

    One streaming DuckDB query runs over the whole file (its lines fed as an Arrow stream), so
    memory stays bounded and the query is planned once. The fast query parses each line once
    and fails on the first malformed line; the file then resumes, after the last line already
    yielded, with the careful query that validates every line.
    """
    params = {
        "batch_id": batch_id,
        "file_id": file_id,
        "file_kind": file_kind,
        "store_text": store_text,
    }
    done = 0  # last line number yielded; results stream in line order
    for guarded in (False, True):
        sql = _parse_sql(file_kind, guarded=guarded)
        # No progress bar: DuckDB draws one on a terminal for long queries.
        con = duckdb.connect()
        con.execute("set enable_progress_bar = false")
        try:
            lines = pa.RecordBatchReader.from_batches(
                LINES_SCHEMA,
                (batch for table in iter_line_chunks(path) for batch in table.to_batches()),
            )
            con.register("chunk", lines)
            stream = con.sql(sql, params={**_only(params, sql), "after": done})
            for batch in stream.to_arrow_reader(RESULT_BATCH_ROWS):
                parsed = pa.Table.from_batches([batch])
                if parsed.num_rows == 0:
                    continue
                yield _split(parsed, file_kind, tally)
                done = parsed.column("line_number")[-1].as_py()
            return
        except (duckdb.InvalidInputException, OSError) as exc:
            # Mid-stream, DuckDB's error reaches us through Arrow as a bare OSError.
            if guarded or "Invalid Input Error" not in str(exc):
                raise
            # A malformed line: carry on from `done` with the line-by-line validation.
        finally:
            con.close()


def _split(parsed: pa.Table, file_kind: str, tally: FileTally) -> ParsedChunk:
    """Separate loadable rows from quarantined lines, and count both."""
    errors = parsed.column("error")
    if errors.null_count == len(errors):
        # The common case, a clean batch: no copy.
        rows, quarantine = parsed.drop_columns(["error", "raw_text"]), parsed.slice(0, 0)
    else:
        ok = pc.is_null(errors)
        rows = parsed.filter(ok).drop_columns(["error", "raw_text"])
        quarantine = parsed.filter(pc.invert(ok))
    if "file_kind" not in quarantine.column_names:
        kinds = pa.array([file_kind] * quarantine.num_rows, pa.string())
        quarantine = quarantine.append_column("file_kind", kinds)
    quarantine = quarantine.select(_QUARANTINE_COLUMNS)
    tally.lines_total += parsed.num_rows
    tally.lines_loaded += rows.num_rows
    tally.lines_quarantined += quarantine.num_rows
    for reason in quarantine.column("error").to_pylist():
        tally.quarantine_errors[reason] = tally.quarantine_errors.get(reason, 0) + 1
    return ParsedChunk(rows=_keys_required(rows), quarantine=_keys_required(quarantine))


def _keys_required(table: pa.Table) -> pa.Table:
    """Mark the primary-key columns NOT NULL, as dlt's schema has them (they never are null)."""
    fields = [
        field.with_nullable(False) if field.name in LINE_KEY else field for field in table.schema
    ]
    return table.cast(pa.schema(fields))


def _only(params: dict[str, Any], sql: str) -> dict[str, Any]:
    """DuckDB rejects named parameters a statement does not use."""
    return {name: value for name, value in params.items() if f"${name}" in sql}


def is_terminal(batch: dict[str, Any]) -> bool:
    return str(batch.get("status", "")).upper() in TERMINAL_STATUSES


@dataclass(frozen=True)
class PendingFile:
    file_id: str
    batch_id: str
    file_kind: str  # input | output | error
    # Output and error files of a running job may still grow; they are loaded again once it ends.
    is_final: bool


FILE_KEYS = (("input", "input_file_id"), ("output", "output_file_id"), ("error", "error_file_id"))


def file_references(
    batches: list[dict[str, Any]],
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file_id, kind, batch) for every file a batch refers to, each file once, oldest batch
    first (one input file can feed several batches)."""
    seen: set[str] = set()
    for batch in sorted(batches, key=lambda b: str(b.get("created_at") or "")):
        for kind, key in FILE_KEYS:
            file_id = batch.get(key)
            if file_id and file_id not in seen:
                seen.add(file_id)
                yield str(file_id), kind, batch


def pending_files(batches: list[dict[str, Any]], final_loads: set[str]) -> list[PendingFile]:
    """Files whose content has to be (re)loaded: every referenced file not yet loaded as final."""
    return [
        PendingFile(
            file_id=file_id,
            batch_id=str(batch["id"]),
            file_kind=kind,
            is_final=kind == "input" or is_terminal(batch),
        )
        for file_id, kind, batch in file_references(batches)
        if file_id not in final_loads
    ]


def status_changes(
    batches: list[dict[str, Any]], last_seen: dict[str, tuple[str, float | None]]
) -> list[dict[str, Any]]:
    """Batches whose (status, progress) differs from the last row of their timeline."""
    changed = []
    for batch in batches:
        current = (str(batch.get("status")), _as_float(batch.get("progress")))
        if last_seen.get(str(batch["id"])) != current:
            changed.append(batch)
    return changed


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def record_hash(record: dict[str, Any]) -> str:
    """A stable digest of an API object, so an unchanged job or file is not written again."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class KnownState:
    """What the warehouse already holds, so that a rerun fetches and writes only what changed."""

    final_loads: frozenset[str] = frozenset()
    last_status: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    # record_hash of each batch and file object as last written.
    batch_hashes: dict[str, str] = field(default_factory=dict)
    file_hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestPlan:
    """What one run has to write, decided from one listing of batches and files."""

    batches: list[dict[str, Any]]
    changed_batches: list[dict[str, Any]]
    status_changes: list[dict[str, Any]]
    changed_files: list[dict[str, Any]]
    pending: list[PendingFile]
    # File metadata by id, for the referenced files the listing (or a lookup) returned.
    file_metadata: dict[str, dict[str, Any]]

    @property
    def is_empty(self) -> bool:
        """Nothing to write: every job, file and line is in the warehouse as listed now."""
        return not (
            self.changed_batches or self.status_changes or self.changed_files or self.pending
        )


def plan_ingest(
    batches: list[dict[str, Any]],
    listed_files: list[dict[str, Any]],
    known: KnownState,
    lookup_file: Callable[[str, str], dict[str, Any] | None],
) -> IngestPlan:
    """Compare the listing with the warehouse. `lookup_file(file_id, batch_id)` is asked only
    for a referenced file that the list lacks (the list can lag behind a job that just
    finished) and whose metadata or lines the warehouse does not have yet."""
    listed = {str(f["id"]): f for f in listed_files if f.get("id")}
    pending = pending_files(batches, set(known.final_loads))
    pending_ids = {item.file_id for item in pending}
    metadata: dict[str, dict[str, Any]] = {}
    for file_id, _, batch in file_references(batches):
        meta = listed.get(file_id)
        if meta is None and (file_id in pending_ids or file_id not in known.file_hashes):
            meta = lookup_file(file_id, str(batch["id"]))
        if meta is not None:
            metadata[file_id] = meta
    return IngestPlan(
        batches=batches,
        changed_batches=[
            b for b in batches if known.batch_hashes.get(str(b["id"])) != record_hash(b)
        ],
        status_changes=status_changes(batches, known.last_status),
        changed_files=[
            meta
            for file_id, meta in metadata.items()
            if known.file_hashes.get(file_id) != record_hash(meta)
        ],
        pending=pending,
        file_metadata=metadata,
    )
