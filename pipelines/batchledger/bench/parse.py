"""The two parse measurements, each run as its own child: `python -m batchledger.bench.parse`.

    reference FILE...  DuckDB's own read_json with explicit columns, the yardstick
    ours FILE...       batchledger's parse of the same output files

Each prints one JSON line {"seconds": ..., "rows": ...}; imports happen before the clock starts,
so both time only the parse. Rows are pulled as Arrow batches and dropped, as ingest does.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast

# The result-line fields our parse keeps (helpers._RESULT_SHAPE), as read_json column types.
_REFERENCE_COLUMNS = (
    "{id: 'VARCHAR', custom_id: 'VARCHAR', error: 'JSON', response: 'STRUCT(status_code "
    "VARCHAR, body STRUCT(model VARCHAR, created VARCHAR, usage JSON, error JSON, choices JSON))'}"
)
_REFERENCE_SQL = f"""
select
    id as result_id,
    custom_id,
    try_cast(response.status_code as integer) as status_code,
    response.body.usage::varchar as usage,
    response.body.model as model,
    try_cast(response.body.created as bigint) as created,
    response.body.choices->>'$[0].finish_reason' as finish_reason,
from read_json($files, format = 'newline_delimited', columns = {_REFERENCE_COLUMNS})
"""
BATCH_ROWS = 100_000


def reference(paths: list[Path]) -> int:
    import duckdb

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    rows = 0
    files = [str(p) for p in paths]
    for batch in con.sql(_REFERENCE_SQL, params={"files": files}).to_arrow_reader(BATCH_ROWS):
        rows += batch.num_rows
    con.close()
    return rows


_MANY_KWARGS = {"batch_id": "b", "file_kind": "output", "store_text": False}


def _parse_files() -> Callable[..., Iterable[object]] | None:
    """The module's multi-file parse, if it has one whose signature takes (paths, **kwargs of
    parse_file but file_id, tally); else None and the bench parses file by file."""
    from batchledger.sources.together_batches import helpers

    many = getattr(helpers, "parse_files", None)
    if many is None:
        return None
    try:
        inspect.signature(many).bind([], tally=helpers.FileTally(), **_MANY_KWARGS)
    except (TypeError, ValueError):
        return None
    return cast(Callable[..., Iterable[object]], many)


def ours(paths: list[Path]) -> int:
    from batchledger.sources.together_batches import helpers

    many = _parse_files()
    if many is not None:
        tally = helpers.FileTally()
        for _ in many(paths, tally=tally, **_MANY_KWARGS):
            pass
        return int(tally.lines_loaded)
    rows = 0
    for path in paths:
        tally = helpers.FileTally()
        for _ in helpers.parse_file(
            path, batch_id="b", file_id=path.stem, file_kind="output", store_text=False, tally=tally
        ):
            pass
        rows += tally.lines_loaded
    return rows


def ours_label() -> str:
    from batchledger.sources.together_batches import helpers

    if _parse_files() is not None:
        return "parse_files"
    if hasattr(helpers, "parse_files"):
        return "parse_file per file; parse_files has another signature"
    return "parse_file per file"


def _main(argv: list[str]) -> None:
    kinds: dict[str, Callable[[list[Path]], int]] = {"reference": reference, "ours": ours}
    if len(argv) < 2 or argv[0] not in kinds:
        raise SystemExit("usage: python -m batchledger.bench.parse reference|ours FILE...")
    run = kinds[argv[0]]
    # Import everything the run needs before timing it.
    import duckdb  # noqa: F401

    from batchledger.sources.together_batches import helpers  # noqa: F401

    started = time.perf_counter()
    rows = run([Path(p) for p in argv[1:]])
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))


if __name__ == "__main__":
    _main(sys.argv[1:])
