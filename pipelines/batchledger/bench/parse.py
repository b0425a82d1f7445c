"""The two parse measurements, each run as its own child: `python -m batchledger.bench.parse`.

    reference FILE...  DuckDB's own read_json with explicit columns, the yardstick
    ours FILE...       batchledger's parse of the same output files

Each prints one JSON line {"seconds": ..., "rows": ...}; imports happen before the clock starts,
so both time only the parse. Rows are pulled as Arrow batches and dropped, as ingest does.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The yardstick reads the same result-line fields, with the same explicit column types, as the
# fast path of our parse (helpers._FAST_RESULT_COLUMNS): only the first choice's finish_reason.
_REFERENCE_COLUMNS = (
    "{id: 'VARCHAR', custom_id: 'VARCHAR', error: 'JSON', response: 'STRUCT(status_code "
    "VARCHAR, body STRUCT(model VARCHAR, created VARCHAR, usage JSON, error JSON, "
    "choices STRUCT(finish_reason VARCHAR)[]))'}"
)
_REFERENCE_SQL = f"""
select
    id as result_id,
    custom_id,
    try_cast(response.status_code as integer) as status_code,
    response.body.usage::varchar as usage,
    response.body.model as model,
    try_cast(response.body.created as bigint) as created,
    response.body.choices[1].finish_reason as finish_reason,
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


def ours(paths: list[Path]) -> int:
    """The source's own way: files grouped as ingest groups them, each group one parse."""
    from batchledger.sources.together_batches import helpers

    landed = [helpers.LandedFile(path, "b", path.stem, "output") for path in paths]
    tallies: dict[str, helpers.FileTally] = {}
    for group in helpers.group_files(landed):
        for _ in helpers.parse_files(group, store_text=False, tallies=tallies):
            pass
    return sum(tally.lines_loaded for tally in tallies.values())


def ours_label() -> str:
    return "parse_files, grouped as ingest does"


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
