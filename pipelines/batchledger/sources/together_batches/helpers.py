"""Pure functions of the together_batches source: file-line parsing and change detection.

Files are read in chunks of lines and parsed by DuckDB's JSON functions over Arrow, so a 50,000-line
result file never becomes 50,000 Python dicts and never sits whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from batchledger.sources.together_batches.settings import (
    CHUNK_BYTES,
    LINE_KEY,
    QUARANTINE_TEXT_CHARS,
    TERMINAL_STATUSES,
)

LINES_SCHEMA = pa.schema([("line_number", pa.int64()), ("raw", pa.string())])

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
            when left(ltrim(raw), 1) <> '{{' then 'not a JSON object'
            when doc is null then 'unexpected shape'
            when coalesce(doc.custom_id, '') = '' then 'missing custom_id'
        end as error,
    from (
        select
            line_number,
            raw,
            -- try() does not catch malformed JSON, so validate first.
            case when json_valid(raw) then try(from_json(raw, '{shape}')) end as doc,
        from chunk
        where trim(raw) <> ''
    )
)
"""
_QUARANTINE_COLUMNS = ["batch_id", "file_id", "file_kind", "line_number", "error", "raw_text"]


def _parse_sql(file_kind: str) -> str:
    if file_kind == "input":
        return _PARSE.format(
            line_number="line_number,",
            columns=_INPUT_COLUMNS,
            chars=QUARANTINE_TEXT_CHARS,
            shape=_INPUT_SHAPE,
        )
    # Result columns carry file_kind before line_number, matching the raw table's order.
    return _PARSE.format(
        line_number="",
        columns=_RESULT_COLUMNS,
        chars=QUARANTINE_TEXT_CHARS,
        shape=_RESULT_SHAPE,
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

    pyarrow's CSV reader splits lines in C++ (one column, a delimiter valid JSON cannot contain),
    keeping blank lines so that line numbers match what `sed -n Np` shows. A line it cannot split
    (it contains that control character, so it is not valid JSON either) is kept verbatim and
    fails parsing downstream, which sends it to quarantine with its own line number.
    """
    odd: list[tuple[int, str]] = []

    def keep_odd_line(row: pa_csv.InvalidRow) -> str:
        odd.append((row.number, row.text))
        return "skip"

    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(
            column_names=["raw"], block_size=block_bytes, use_threads=False
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter="\x1f",
            quote_char=False,
            escape_char=False,
            ignore_empty_lines=False,
            newlines_in_values=False,
            invalid_row_handler=keep_odd_line,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={"raw": pa.string()},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    emitted = 0  # rows the reader has produced so far
    skipped: list[int] = []  # physical line numbers of odd lines, ascending
    for batch in reader:
        numbers = range(emitted + 1, emitted + batch.num_rows + 1)
        emitted += batch.num_rows
        raws = batch.column(0)
        if odd or skipped:
            skipped.extend(number for number, _ in odd)
            numbers = _shift_past(list(range(emitted - batch.num_rows + 1, emitted + 1)), skipped)
            numbers += [n for n, _ in odd]
            raws = pa.concat_arrays([raws, pa.array([text for _, text in odd], pa.string())])
            odd.clear()
        yield pa.Table.from_arrays([pa.array(numbers, pa.int64()), raws], schema=LINES_SCHEMA)


def _shift_past(ordinals: list[int], skipped: list[int]) -> list[int]:
    """Physical line numbers of the kept rows, given the (sorted) physical numbers skipped."""
    out = []
    skip_index = 0
    for ordinal in ordinals:
        line = ordinal + skip_index
        while skip_index < len(skipped) and skipped[skip_index] <= line:
            skip_index += 1
            line += 1
        out.append(line)
    return out


def parse_file(
    path: Path,
    *,
    batch_id: str,
    file_id: str,
    file_kind: str,
    store_text: bool,
    tally: FileTally,
) -> Iterator[ParsedChunk]:
    """Parse a landed file into Arrow chunks for batch_requests or batch_results, and quarantine."""
    sql = _parse_sql(file_kind)
    params = {
        "batch_id": batch_id,
        "file_id": file_id,
        "file_kind": file_kind,
        "store_text": store_text,
    }
    con = duckdb.connect()
    try:
        for chunk in iter_line_chunks(path):
            con.register("chunk", chunk)
            parsed = con.sql(sql, params=_only(params, sql)).to_arrow_table()
            con.unregister("chunk")
            ok = pc.is_null(parsed.column("error"))
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
            yield ParsedChunk(rows=_keys_required(rows), quarantine=_keys_required(quarantine))
    finally:
        con.close()


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


def pending_files(batches: list[dict[str, Any]], final_loads: set[str]) -> list[PendingFile]:
    """Files whose content has to be (re)loaded: every referenced file not yet loaded as final."""
    pending: dict[str, PendingFile] = {}
    for batch in sorted(batches, key=lambda b: str(b.get("created_at") or "")):
        terminal = is_terminal(batch)
        for kind, key in (
            ("input", "input_file_id"),
            ("output", "output_file_id"),
            ("error", "error_file_id"),
        ):
            file_id = batch.get(key)
            if not file_id or file_id in final_loads or file_id in pending:
                continue
            pending[file_id] = PendingFile(
                file_id=file_id,
                batch_id=str(batch["id"]),
                file_kind=kind,
                is_final=kind == "input" or terminal,
            )
    return list(pending.values())


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
