"""Pure functions of the together_batches source: file-line parsing and change detection.

Landed JSONL files are parsed by DuckDB, never into Python dicts and never whole in memory:

- The fast path is `read_json` with explicit columns for just the fields we keep: parallel, and
  many small files in one query. It is trusted for a file only when it returns one row per
  physical line: it skips blank lines, which would shift line numbers, so a file with one (found
  by a memory-speed scan before the query) is not given to it. It is trusted up to the first row
  it cannot load as is, or the first line it raises on; row and line counts must agree.
- The careful path splits lines itself and validates each one, so a malformed line is quarantined
  with its physical line number and the file goes on. It resumes where the fast path stopped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import struct
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from batchledger.paths import PRICES_DIR
from batchledger.pricing import (
    DEDICATED_ENDPOINTS,
    MODEL_PRICES,
    endpoint_key,
    read_dedicated_windows,
    read_price_rows,
)
from batchledger.sources.together_batches.settings import (
    CHUNK_BYTES,
    GROUP_MAX_BYTES,
    GROUP_MAX_FILES,
    LINE_KEY,
    PARSE_MEMORY_LIMIT,
    PARSE_THREADS,
    QUARANTINE_TEXT_CHARS,
    RAW_TABLES,
    RESULT_BATCH_ROWS,
)
from batchledger.statuses import is_terminal
from batchledger.together import (
    TogetherAPIError,
    TogetherAuthError,
    TogetherClient,
    TogetherNotFoundError,
)

LINES_SCHEMA = pa.schema([("line_number", pa.int64()), ("raw", pa.large_string())])
BOM = b"\xef\xbb\xbf"
# What read_json skips as a blank line: nothing but these bytes before the newline (measured
# over all 256 byte values: exactly the JSON whitespace plus \v and \f).
_WHITESPACE = rb"[\t\x0b\x0c\r ]*"
_BLANK_LINE = r"\n[\t\x0b\x0c\r ]*\n"  # RE2, for a blank line after the first of a block
_BLANK_HEAD = re.compile(_WHITESPACE + rb"\n")
_BLANK_REST = re.compile(_WHITESPACE)
RESULT_KINDS = frozenset({"output", "error"})
log = logging.getLogger(__name__)

# The careful path parses each line once, by from_json into just the fields we keep. Leaves that
# vary in shape stay JSON so that an odd value does not reject a billable line.
_INPUT_SHAPE = (
    '{"custom_id": "VARCHAR", "body": {"model": "VARCHAR", "max_tokens": "VARCHAR"}, '
    '"metadata": "JSON"}'
)
# `duration` is what an audio (transcription or translation) result reports, in seconds; it
# stays JSON text. DuckDB writes a JSON number back in its shortest double form, so more than
# 15 significant digits are normalised: below the microsecond staging rounds to (see
# docs/reference/together-audio-batches.md).
_RESULT_SHAPE = (
    '{"id": "VARCHAR", "custom_id": "VARCHAR", "error": "JSON", "response": {"status_code": '
    '"VARCHAR", "body": {"model": "VARCHAR", "created": "VARCHAR", "usage": "JSON", '
    '"error": "JSON", "choices": "JSON", "duration": "JSON"}}}'
)
# The fast path reads the same leaves, except that of `choices` it reads only what we keep from
# the first choice instead of the whole array. A value that does not fit raises, and the file
# goes to the careful path from there.
_FAST_INPUT_COLUMNS = (
    "{'custom_id': 'VARCHAR', 'body': 'STRUCT(model VARCHAR, max_tokens VARCHAR)', "
    "'metadata': 'JSON'}"
)
_FAST_RESULT_COLUMNS = (
    "{{'id': 'VARCHAR', 'custom_id': 'VARCHAR', 'error': 'JSON', 'response': "
    "'STRUCT(status_code VARCHAR, body STRUCT(model VARCHAR, created VARCHAR, usage JSON, "
    "error JSON, choices STRUCT({choice})[], duration JSON{text}))'}}"
)

# One definition of each column for both paths; `doc` is the parsed line (a from_json struct on
# the careful path, the read_json row on the fast path).
_INPUT_FIELDS = """
    doc.custom_id as custom_id,
    doc.body.model as model,
    try_cast(doc.body.max_tokens as bigint) as max_tokens,
    case when json_type(doc.metadata) = 'OBJECT' then doc.metadata::varchar end as metadata,
    {request_bytes} as request_bytes,
    {body} as body,
"""
_RESULT_FIELDS = """
    doc.id as result_id,
    doc.custom_id as custom_id,
    -- Three digits 100-599 only: a cast would read '0xC8' or 199.6 as 200 (succeeded).
    case when regexp_full_match(trim(doc.response.status_code), '[1-5][0-9][0-9]')
        then cast(trim(doc.response.status_code) as integer) end as status_code,
    case when json_type(doc.response.body.usage) = 'OBJECT'
        then doc.response.body.usage::varchar end as usage,
    doc.response.body.model as model,
    try_cast(doc.response.body.created as bigint) as created,
    {finish_reason} as finish_reason,
    coalesce(doc.error->>'$.code', doc.response.body.error->>'$.code') as error_code,
    coalesce(
        doc.error->>'$.message',
        doc.response.body.error->>'$.message',
        case when json_type(doc.error) = 'VARCHAR' then doc.error->>'$' end
    ) as error_message,
    {completion_text} as completion_text,
    -- Audio seconds as the JSON text the line gave (a number, or anything else, which dbt
    -- flags); null when the body has none, as chat bodies and json-format audio bodies do.
    case when doc.response.body.duration is not null
        and json_type(doc.response.body.duration) <> 'NULL'
        then doc.response.body.duration::varchar end as audio_duration,
"""
_CAREFUL_INPUT_FIELDS = _INPUT_FIELDS.format(
    request_bytes="octet_length(encode(raw))",
    body="case when $store_text and doc is not null then json_extract(raw, '$.body')::varchar end",
)
# Result columns carry file_kind before line_number, matching the raw table's order.
_CAREFUL_RESULT_FIELDS = "$file_kind as file_kind, line_number," + _RESULT_FIELDS.format(
    finish_reason="doc.response.body.choices->>'$[0].finish_reason'",
    # A chat completion's first choice, else an audio result's transcript (`text`).
    completion_text="case when $store_text and doc is not null then coalesce(json_extract_string("
    "raw, '$.response.body.choices[0].message.content'), json_extract_string(raw, "
    "'$.response.body.text')) end",
)

_CAREFUL_PARSE = """
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
# An empty quarantine, loaded once so that the table exists (and queries of it run) on an
# account where no line was ever quarantined.
EMPTY_QUARANTINE = pa.schema(
    [
        pa.field(
            name,
            pa.int64() if name == "line_number" else pa.string(),
            nullable=name not in LINE_KEY,
        )
        for name in _QUARANTINE_COLUMNS
    ]
).empty_table()


def _careful_sql(file_kind: str, *, guarded: bool) -> str:
    """The careful parse for one file kind. Unguarded parses each line once and raises on a
    malformed line; guarded validates every line first (try() does not catch malformed JSON), so
    it is used only from the first malformed line on."""
    shape = _INPUT_SHAPE if file_kind == "input" else _RESULT_SHAPE
    doc = f"from_json(raw, '{shape}')"
    if guarded:
        doc = f"case when json_valid(raw) then try({doc}) end"
    if file_kind == "input":
        return _CAREFUL_PARSE.format(
            line_number="line_number,",
            columns=_CAREFUL_INPUT_FIELDS,
            chars=QUARANTINE_TEXT_CHARS,
            doc=doc,
        )
    return _CAREFUL_PARSE.format(
        line_number="", columns=_CAREFUL_RESULT_FIELDS, chars=QUARANTINE_TEXT_CHARS, doc=doc
    )


def _fast_sql(*, is_input: bool, store_text: bool, many: bool) -> str:
    """read_json over the `$paths` list. Row order is file order (insertion order is preserved),
    so line numbers are counted in Python; `WITH ORDINALITY` would make the scan single-threaded.
    request_bytes is filled in from the careful path's own line split (read_json has no raw
    line); batch_id, file_id, file_kind and line_number are added per file."""
    if is_input:
        columns = _FAST_INPUT_COLUMNS
        fields = _INPUT_FIELDS.format(request_bytes="null::bigint", body="null::varchar")
    else:
        columns = _FAST_RESULT_COLUMNS.format(
            choice="finish_reason VARCHAR, message JSON" if store_text else "finish_reason VARCHAR",
            text=", text JSON" if store_text else "",
        )
        fields = _RESULT_FIELDS.format(
            finish_reason="doc.response.body.choices[1].finish_reason",
            completion_text="coalesce(json_extract_string(doc.response.body.choices[1].message, "
            "'$.content'), json_extract_string(doc.response.body.text, '$'))"
            if store_text
            else "null::varchar",
        )
    return (
        f"select {'filename,' if many else ''} {fields.rstrip().rstrip(',')} "
        f"from read_json($paths, format = 'newline_delimited', columns = {columns}, "
        f"filename = {str(many).lower()}) as doc"
    )


@dataclass
class ParsedChunk:
    """The rows one chunk of one or more files contributes to each table."""

    rows: pa.Table
    quarantine: pa.Table


@dataclass
class FileTally:
    lines_total: int = 0
    lines_loaded: int = 0
    lines_quarantined: int = 0
    quarantine_errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LandedFile:
    """A downloaded file and what its lines belong to."""

    path: Path
    batch_id: str
    file_id: str
    file_kind: str  # input | output | error


def iter_line_chunks(path: Path, block_bytes: int = CHUNK_BYTES) -> Iterator[pa.Table]:
    """Physical lines of a JSONL file with 1-based line numbers, one Arrow table per block.

    The file is read `block_bytes` at a time and split at the last newline of each block, so
    memory holds one block however large the file. Blank lines are kept (and skipped later) so
    line numbers match what `sed -n Np` shows. Bytes that are not UTF-8 become U+FFFD, so such a
    line still loads (or is quarantined if it is not JSON) instead of stopping the load. A UTF-8
    byte order mark is not part of line 1 (read_json drops it too).
    """
    next_line = 1
    with path.open("rb") as fh:
        carry = fh.read(len(BOM))
        if carry == BOM:
            carry = b""
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


def count_lines(path: Path, block_bytes: int = CHUNK_BYTES) -> int:
    """Physical lines of a file, blank ones included: newlines, plus a last line without one."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while block := fh.read(block_bytes):
            # bytes.replace finds newlines with memchr: several times faster than bytes.count.
            lines += len(block) - len(block.replace(b"\n", b""))
            last = block[-1:]
    return lines + (last != b"\n")


def one_row_per_line(path: Path, block_bytes: int = CHUNK_BYTES) -> int | None:
    """The physical line count of a file when read_json returns exactly one row per line, else
    None. read_json skips blank lines (empty, or only the whitespace of `_BLANK_LINE`) and raises
    on any other line it cannot read as one JSON value, so a file without a blank line gives
    one row per line up to the first line it raises on; that the counts agree is checked again
    as the rows stream. The file is read a block at a time, its newlines counted with memchr and
    blank lines searched for by RE2 (both at memory speed), never split in Python."""
    newlines = 0
    at_blank = True  # the line being read is, so far, only whitespace (a BOM is no part of it)
    tail = False  # the last line has no newline after it
    with path.open("rb") as fh:
        block = fh.read(len(BOM))
        if block == BOM:
            block = fh.read(block_bytes)
        while block:
            if at_blank and _BLANK_HEAD.match(block):
                return None  # the line the last block ended in, or line 1, is blank
            last = block.rfind(b"\n")
            if last >= 0:
                data = pa.py_buffer(block)
                offsets = pa.py_buffer(struct.pack("<qq", 0, len(block)))
                one = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, data])
                if pc.count_substring_regex(one, _BLANK_LINE)[0].as_py():
                    return None
                newlines += len(block) - len(block.replace(b"\n", b""))
            # fullmatch at `pos` looks at the rest of the block in place, without a copy.
            rest_blank = bool(_BLANK_REST.fullmatch(block, last + 1))
            at_blank = rest_blank if last >= 0 else at_blank and rest_blank
            tail = last < len(block) - 1
            block = fh.read(block_bytes)
    if tail and at_blank:
        return None  # a last line of only whitespace, with no newline after it
    return newlines + tail


def group_files(
    files: Sequence[LandedFile],
    *,
    max_bytes: int = GROUP_MAX_BYTES,
    max_files: int = GROUP_MAX_FILES,
) -> list[list[LandedFile]]:
    """Split landed files into `parse_files` calls: input files apart from result files, each
    group at most `max_files` files and `max_bytes` bytes (a bigger file is a group alone), in
    the given order within each family."""
    groups: list[list[LandedFile]] = []
    for family in (("input",), tuple(sorted(RESULT_KINDS))):
        group: list[LandedFile] = []
        size = 0
        for landed in (f for f in files if f.file_kind in family):
            nbytes = landed.path.stat().st_size
            if group and (size + nbytes > max_bytes or len(group) >= max_files):
                groups.append(group)
                group, size = [], 0
            group.append(landed)
            size += nbytes
        if group:
            groups.append(group)
    return groups


def parse_file(
    path: Path,
    *,
    batch_id: str,
    file_id: str,
    file_kind: str,
    store_text: bool,
    tally: FileTally,
    temp_dir: Path | None = None,
) -> Iterator[ParsedChunk]:
    """Parse one landed file into Arrow chunks for batch_requests or batch_results, and
    quarantine. See `parse_files`."""
    landed = LandedFile(path=path, batch_id=batch_id, file_id=file_id, file_kind=file_kind)
    yield from parse_files(
        [landed], store_text=store_text, tallies={file_id: tally}, temp_dir=temp_dir
    )


def parse_files(
    files: Sequence[LandedFile],
    *,
    store_text: bool,
    tallies: dict[str, FileTally],
    temp_dir: Path | None = None,
) -> Iterator[ParsedChunk]:
    """Parse landed files, all input or all result files (output and error may mix), into Arrow
    chunks of at most RESULT_BATCH_ROWS rows; one chunk may hold rows of several files. Each
    file's counts are added to `tallies[file_id]` (created if absent).

    The files are read by one read_json query when they can be (see the module docstring), and
    each file the fast path cannot vouch for is parsed carefully on its own. Stored prompts
    (`store_text` on input files) need the raw line, so they always take the careful path.
    """
    files = list(files)
    kinds = {f.file_kind for f in files}
    if not (kinds <= {"input"} or kinds <= RESULT_KINDS):
        raise ValueError(f"parse_files takes input files or result files, not both: {kinds}")
    if len({f.file_id for f in files}) < len(files) or len({f.path for f in files}) < len(files):
        raise ValueError("parse_files was given the same file twice")
    for landed in files:
        tallies.setdefault(landed.file_id, FileTally())
    is_input = kinds == {"input"}
    fast = [f for f in files if not (is_input and store_text) and _plain_path(f.path)]
    careful = [f for f in files if f not in fast]
    con = duckdb.connect(
        config={
            "memory_limit": PARSE_MEMORY_LIMIT,
            "threads": PARSE_THREADS,
            "temp_directory": str(temp_dir or tempfile.gettempdir()),
            "preserve_insertion_order": True,  # the fast path counts line numbers in row order
        }
    )
    try:
        counts = {f.file_id: one_row_per_line(f.path) for f in fast}
        lines = {file_id: n for file_id, n in counts.items() if n is not None}
        careful += [f for f in fast if f.file_id not in lines]
        counted = [f for f in fast if f.file_id in lines]
        tables = itertools.chain(
            _parse_counted(con, counted, lines, store_text),
            *(_parse_careful(con, landed, store_text, after=0) for landed in careful),
        )
        for table in _coalesce(tables):
            yield _split(table, tallies)
    finally:
        con.close()


def _coalesce(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """Consecutive tables of one layout joined up to RESULT_BATCH_ROWS rows. The fast path
    yields one table per file run, and each table becomes a dlt item whose schema dlt computes
    anew: for thousands of small files, that per-item cost dominated the load."""
    held: list[pa.Table] = []
    rows = 0
    for table in tables:
        if held and (rows + table.num_rows > RESULT_BATCH_ROWS or table.schema != held[0].schema):
            yield held[0] if len(held) == 1 else pa.concat_tables(held)
            held, rows = [], 0
        held.append(table)
        rows += table.num_rows
    if held:
        yield held[0] if len(held) == 1 else pa.concat_tables(held)


def _plain_path(path: Path) -> bool:
    """read_json expands glob characters; a path with one is left to the careful path."""
    return not any(c in str(path) for c in "*?[]{}")


def _cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    cur = con.cursor()
    # No progress bar: DuckDB draws one on a terminal for long queries.
    cur.execute("set enable_progress_bar = false")
    return cur


class _FastPathStopped(Exception):
    """The fast path cannot go on past the line in `_Progress`; the careful path takes over."""


@dataclass
class _Progress:
    index: int = 0  # the file being read
    done: int = 0  # its lines already yielded


def _parse_counted(
    con: duckdb.DuckDBPyConnection,
    files: list[LandedFile],
    lines: dict[str, int],
    store_text: bool,
) -> Iterator[pa.Table]:
    """Parse files vouched for by `one_row_per_line`: by one fast query while it can; a file it
    stops in goes on carefully from its last yielded line, and the files after it start again."""
    if not files:
        return
    progress = _Progress()
    try:
        yield from _fast_rows(con, files, lines, store_text, progress)
        return
    except _FastPathStopped:
        pass
    rest = files[progress.index :]
    if progress.done or len(files) == 1:
        yield from _parse_careful(con, rest[0], store_text, after=progress.done)
        rest = rest[1:]
    for landed in rest:
        yield from _parse_counted(con, [landed], lines, store_text)


def _fast_rows(
    con: duckdb.DuckDBPyConnection,
    files: list[LandedFile],
    lines: dict[str, int],
    store_text: bool,
    progress: _Progress,
) -> Iterator[pa.Table]:
    """Rows of `files` from one read_json query, labelled with their file and line number, in
    the careful path's layout. Raises _FastPathStopped at the first error or unusable row, with
    `progress` at the first line not yielded."""
    is_input = files[0].file_kind == "input"
    many = len(files) > 1
    sql = _fast_sql(is_input=is_input, store_text=store_text, many=many)
    index_of = {str(f.path): i for i, f in enumerate(files)}
    lengths = _LineLengths(files[0].path) if is_input else None
    cur = _cursor(con)
    try:
        for batch in _batches(cur.sql(sql, params={"paths": list(index_of)})):
            for index, part in _file_runs(batch, index_of, many):
                if index != progress.index:
                    # A file ends where the next begins: every row of it must have come.
                    _check_complete(files, lines, progress, index)
                    progress.index, progress.done = index, 0
                    lengths = _LineLengths(files[index].path) if is_input else None
                usable = _usable_prefix(part)
                if progress.done + part.num_rows > lines[files[index].file_id]:
                    # More rows than lines: no row may be labelled with a line it may not be.
                    raise _out_of_step(files[index])
                if usable:
                    sizes = lengths.take(usable) if lengths else None
                    yield _label(part.slice(0, usable), files[index], progress.done, sizes)
                    progress.done += usable
                if usable < part.num_rows:
                    raise _FastPathStopped
        _check_complete(files, lines, progress, len(files))
    finally:
        cur.close()


def _batches(query: duckdb.DuckDBPyRelation) -> Iterator[pa.RecordBatch]:
    try:
        # The first rows are computed when the reader is made: errors can come from either.
        yield from query.to_arrow_reader(RESULT_BATCH_ROWS)
    except (duckdb.InvalidInputException, OSError) as exc:
        # Mid-stream, DuckDB's error reaches us through Arrow as a bare OSError.
        if "Invalid Input Error" not in str(exc):
            raise
        raise _FastPathStopped from exc


def _file_runs(
    batch: pa.RecordBatch, index_of: dict[str, int], many: bool
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The batch cut into runs of rows of one file each, without the filename column."""
    if not many:
        yield 0, batch
        return
    runs = pc.run_end_encode(batch.column("filename"))
    body = batch.drop_columns(["filename"])
    start = 0
    for end, name in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
        yield index_of[name], body.slice(start, end - start)
        start = end


def _check_complete(
    files: list[LandedFile], lines: dict[str, int], progress: _Progress, next_index: int
) -> None:
    """read_json promised one row per line: the file left has given all its lines, and the
    files skipped over have none."""
    expected = [lines[f.file_id] for f in files[progress.index : next_index]]
    if next_index < progress.index or expected[:1] != [progress.done] or any(expected[1:]):
        raise _out_of_step(files[progress.index])


def _out_of_step(landed: LandedFile) -> RuntimeError:
    """read_json gave a file more or fewer rows than it has lines, which `one_row_per_line`
    rules out: rows already yielded may carry wrong line numbers, so the parse stops loudly."""
    return RuntimeError(f"read_json rows out of step with the lines of {landed.path}")


def _usable_prefix(part: pa.RecordBatch) -> int:
    """Rows before the first one without a custom_id. That one needs its raw text to be
    quarantined, which only the careful path has."""
    custom_id = part.column("custom_id")
    missing = pc.fill_null(pc.equal(custom_id, ""), True)
    first = pc.index(missing, True).as_py()  # -1 when every row has one
    return part.num_rows if first < 0 else int(first)


def _label(part: pa.RecordBatch, landed: LandedFile, done: int, sizes: pa.Array | None) -> pa.Table:
    """Fast-path rows with the columns the careful path has: file and line first, then the
    parsed fields, then (empty) error and raw_text."""
    rows = part.num_rows
    head: dict[str, pa.Array] = {
        "batch_id": pa.repeat(landed.batch_id, rows),
        "file_id": pa.repeat(landed.file_id, rows),
    }
    if sizes is None:
        head["file_kind"] = pa.repeat(landed.file_kind, rows)
    ones = pa.repeat(pa.scalar(1, pa.int64()), rows)
    head["line_number"] = pc.add(pc.cumulative_sum(ones), done)
    body = dict(zip(part.schema.names, part.columns, strict=True))
    if sizes is not None:
        body["request_bytes"] = sizes
    blank = pa.nulls(rows, pa.string())
    return pa.table({**head, **body, "error": blank, "raw_text": blank})


class _LineLengths:
    """Byte lengths of a file's lines as the careful path counts them (no \\r, no BOM), handed
    out in order a few at a time, so only one block of the file is in memory."""

    def __init__(self, path: Path) -> None:
        self._chunks = (pc.binary_length(t.column("raw")) for t in iter_line_chunks(path))
        self._ready = pa.chunked_array([], pa.int64())

    def take(self, count: int) -> pa.Array:
        while len(self._ready) < count:
            chunk = next(self._chunks)
            self._ready = pa.chunked_array(self._ready.chunks + chunk.chunks, pa.int64())
        taken = self._ready.slice(0, count).combine_chunks()
        self._ready = self._ready.slice(count)
        return taken


def _parse_careful(
    con: duckdb.DuckDBPyConnection, landed: LandedFile, store_text: bool, *, after: int
) -> Iterator[pa.Table]:
    """Every line of a file after line `after`, one streaming query over its lines fed as an
    Arrow stream. The unguarded query parses each line once and fails on the first malformed
    line; the guarded one resumes after the last line already yielded."""
    params = {
        "batch_id": landed.batch_id,
        "file_id": landed.file_id,
        "file_kind": landed.file_kind,
        "store_text": store_text,
    }
    done = after  # last line number yielded; results stream in line order
    for guarded in (False, True):
        sql = _careful_sql(landed.file_kind, guarded=guarded)
        cur = _cursor(con)
        try:
            lines = pa.RecordBatchReader.from_batches(
                LINES_SCHEMA,
                (batch for table in iter_line_chunks(landed.path) for batch in table.to_batches()),
            )
            cur.register("chunk", lines)
            stream = cur.sql(sql, params={**_only(params, sql), "after": done})
            for batch in stream.to_arrow_reader(RESULT_BATCH_ROWS):
                parsed = pa.Table.from_batches([batch])
                if parsed.num_rows == 0:
                    continue
                yield parsed
                done = parsed.column("line_number")[-1].as_py()
            return
        except (duckdb.InvalidInputException, OSError) as exc:
            if guarded or "Invalid Input Error" not in str(exc):
                raise
            # A malformed line: carry on from `done` with the line-by-line validation.
        finally:
            cur.close()


def empty_line_rows(file_kind: str) -> pa.Table:
    """No rows, in the layout the careful parse gives `file_kind`'s lines (what creates
    batch_requests or batch_results on an account that has no line yet)."""
    con = duckdb.connect()
    try:
        con.register("chunk", LINES_SCHEMA.empty_table())
        sql = _careful_sql(file_kind, guarded=False)
        params = {"batch_id": "", "file_id": "", "file_kind": file_kind, "after": 0}
        parsed = con.sql(sql, params=_only({**params, "store_text": False}, sql)).to_arrow_table()
    finally:
        con.close()
    return _keys_required(parsed.drop_columns(["error", "raw_text"]))


def _split(parsed: pa.Table, tallies: dict[str, FileTally]) -> ParsedChunk:
    """Separate loadable rows from quarantined lines, and count both per file."""
    errors = parsed.column("error")
    if errors.null_count == len(errors):
        # The common case, a clean batch: no copy.
        rows, quarantine = parsed.drop_columns(["error", "raw_text"]), parsed.slice(0, 0)
    else:
        ok = pc.is_null(errors)
        rows = parsed.filter(ok).drop_columns(["error", "raw_text"])
        quarantine = parsed.filter(pc.invert(ok))
    if "file_kind" not in quarantine.column_names:
        # Input rows have no file_kind column; their quarantine rows do.
        kinds = pa.array(["input"] * quarantine.num_rows, pa.string())
        quarantine = quarantine.append_column("file_kind", kinds)
    quarantine = quarantine.select(_QUARANTINE_COLUMNS)
    for file_id, count in _per_file(parsed).items():
        tallies[file_id].lines_total += count
    for file_id, count in _per_file(rows).items():
        tallies[file_id].lines_loaded += count
    for file_id, count in _per_file(quarantine).items():
        tallies[file_id].lines_quarantined += count
    for file_id, reason in zip(
        quarantine.column("file_id").to_pylist(),
        quarantine.column("error").to_pylist(),
        strict=True,
    ):
        errors_seen = tallies[file_id].quarantine_errors
        errors_seen[reason] = errors_seen.get(reason, 0) + 1
    return ParsedChunk(rows=_keys_required(rows), quarantine=_keys_required(quarantine))


def _per_file(table: pa.Table) -> dict[str, int]:
    if table.num_rows == 0:
        return {}
    counts = pc.value_counts(table.column("file_id"))
    return dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )


def _keys_required(table: pa.Table) -> pa.Table:
    """Mark the primary-key columns NOT NULL, as dlt's schema has them (they never are null)."""
    fields = [
        field.with_nullable(False) if field.name in LINE_KEY else field for field in table.schema
    ]
    return table.cast(pa.schema(fields))


def _only(params: dict[str, Any], sql: str) -> dict[str, Any]:
    """DuckDB rejects named parameters a statement does not use."""
    return {name: value for name, value in params.items() if f"${name}" in sql}


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
    endpoint_hashes: dict[str, str] = field(default_factory=dict)
    # The raw tables that exist (some appear only with their first row unless created empty).
    tables: frozenset[str] = frozenset()


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
    # The raw tables the warehouse already has (KnownState.tables).
    tables: frozenset[str] = frozenset()
    # The account's dedicated endpoints whose object is new or changed since last written.
    changed_endpoints: list[dict[str, Any]] = field(default_factory=list)
    # What the listing could not use and the run's summary says (an unusable endpoint list).
    warnings: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing to write: every job, file and line is in the warehouse as listed now, and
        every raw table exists (a new account's first run creates them, empty)."""
        return not (
            self.changed_batches
            or self.status_changes
            or self.changed_files
            or self.pending
            or self.changed_endpoints
            or RAW_TABLES - self.tables
        )


def plan_ingest(
    batches: list[dict[str, Any]],
    listed_files: list[dict[str, Any]],
    known: KnownState,
    lookup_file: Callable[[str, str], dict[str, Any] | None],
    endpoints: list[dict[str, Any]] | None = None,
) -> IngestPlan:
    """Compare the listing with the warehouse. `lookup_file(file_id, batch_id)` is asked only
    for a referenced file that the list lacks (the list can lag behind a job that just
    finished) and whose metadata or lines the warehouse does not have yet. `endpoints` is the
    account's dedicated endpoint list (None: not listed this run, nothing to write)."""
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
        tables=known.tables,
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
        changed_endpoints=[
            endpoint
            for endpoint in endpoints or []
            if known.endpoint_hashes.get(str(endpoint["id"])) != record_hash(endpoint)
        ],
    )


def list_account(client: TogetherClient, known: KnownState) -> IngestPlan:
    """One listing of batches, files and dedicated endpoints (three requests), compared with
    what the warehouse holds."""

    def lookup_file(file_id: str, batch_id: str) -> dict[str, Any] | None:
        try:
            return client.get_file(file_id, batch_id=batch_id)
        except TogetherNotFoundError as exc:
            log.warning("%s", exc)
            return None

    # The batch and file lists come first: a refused key there fails the run, as it should.
    batches, files = client.list_batches(), client.list_files()
    warnings: list[str] = []
    try:
        # A server that ignores the filter answers with serverless endpoints too: only the
        # dedicated ones are the account's to load.
        endpoints: list[dict[str, Any]] | None = [
            endpoint
            for endpoint in client.list_endpoints("dedicated")
            if str(endpoint.get("type", "")).lower() == "dedicated"
        ]
    except (TogetherNotFoundError, TogetherAuthError, TogetherAPIError) as exc:
        # The list is optional: without it (no such list, a key refused for it alone, an
        # answer that is not a list, too long, or an error after retries) dedicated jobs are
        # recognised by the price seed alone (prices/dedicated_endpoints.csv), and the
        # endpoints already in the warehouse stay as they are. Never a failed ingest, but
        # said in the run's summary.
        warning = f"{exc}; dedicated endpoints are taken from {DEDICATED_ENDPOINTS} only this run"
        log.warning("%s", warning)
        warnings.append(warning)
        endpoints = None
    warnings.extend(shadowing_endpoint_warnings(endpoints or []))
    return replace(plan_ingest(batches, files, known, lookup_file, endpoints), warnings=warnings)


def shadowing_endpoint_warnings(
    endpoints: list[dict[str, Any]], prices_dir: Path = PRICES_DIR
) -> list[str]:
    """One warning per listed dedicated endpoint whose name is a model with a token price
    that the dedicated seed does not name: the marts keep that model's jobs at their token
    price (int_dedicated_endpoints_unioned applies the rule; this only says so)."""
    price_csv, seed_csv = prices_dir / "model_prices.csv", prices_dir / "dedicated_endpoints.csv"
    priced = {endpoint_key(row.model) for row in read_price_rows(price_csv)}
    seeded = {endpoint_key(window.endpoint) for window in read_dedicated_windows(seed_csv)}
    return [
        f"the dedicated endpoint {name!r} has the name of a model priced per token in "
        f"{MODEL_PRICES}: its jobs stay priced per token unless {DEDICATED_ENDPOINTS} names it"
        for name in sorted({str(e.get("name") or "") for e in endpoints})
        if endpoint_key(name) in priced and endpoint_key(name) not in seeded
    ]
