"""`make bench`: time and peak memory of parsing and loading a large Together-shaped result file.

Each measurement runs in a fresh child process so its peak RSS is its own. Figures are printed,
never asserted: timings on a shared machine are not a test.

    BENCH_LINES=1000000 make bench
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

LINES = int(os.environ.get("BENCH_LINES", "1000000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def write_output_file(path: Path, lines: int) -> None:
    """Lines shaped like Together's observed output (contract §4.2), ~1 KB each."""
    content = "word " * 150
    with path.open("w") as fh:
        for n in range(lines):
            body = {
                "choices": [
                    {
                        "finish_reason": "stop",
                        "index": 0,
                        "logprobs": None,
                        "message": {"content": content, "role": "assistant", "tool_calls": []},
                        "seed": n,
                    }
                ],
                "created": 1_790_000_000 + n,
                "id": f"o{n:012d}",
                "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                "object": "chat.completion",
                "prompt": [],
                "usage": {"completion_tokens": 150, "prompt_tokens": 60, "total_tokens": 210},
            }
            line = {
                "id": f"br_{n:043d}",
                "custom_id": f"req-{n}",
                "response": {"status_code": 200, "body": body},
            }
            fh.write(json.dumps(line) + "\n")


def _parse_only(path: str) -> None:
    from batchledger.sources.together_batches.helpers import FileTally, parse_file

    tally = FileTally()
    for _ in parse_file(
        Path(path), batch_id="b", file_id="f", file_kind="output", store_text=False, tally=tally
    ):
        pass
    assert tally.lines_loaded == LINES, tally


def _dlt_load(path: str) -> None:
    import dlt

    from batchledger.sources.together_batches.helpers import FileTally, parse_file

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    work = Path(tempfile.mkdtemp())

    @dlt.resource(name="batch_results", write_disposition="append", primary_key=())
    def lines():  # type: ignore[no-untyped-def]
        for chunk in parse_file(
            Path(path),
            batch_id="b",
            file_id="f",
            file_kind="output",
            store_text=False,
            tally=FileTally(),
        ):
            yield chunk.rows

    pipeline = dlt.pipeline(
        pipeline_name="bench",
        destination=dlt.destinations.duckdb(str(work / "bench.duckdb")),
        dataset_name="raw_together",
        pipelines_dir=str(work / "dlt"),
    )
    pipeline.run(lines())


CASES = {
    "parse (DuckDB JSON over Arrow chunks)": "_parse_only",
    "dlt load into DuckDB": "_dlt_load",
}


def measure(case: str, path: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one run in a fresh child process, which reports its own
    high-water mark (RUSAGE_SELF), so no run's peak leaks into another's."""
    code = (
        f"import resource, batchledger.bench as b; b.{case}({str(path)!r}); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    seconds = time.perf_counter() - started
    peak_kb = int(out.strip().splitlines()[-1])
    return seconds, peak_kb / 1024


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "output.jsonl"
        console.print(f"Writing {LINES:,} Together-shaped output lines...")
        write_output_file(path, LINES)
        size_mb = path.stat().st_size / 1e6
        table = Table(title=f"{LINES:,} lines, {size_mb:,.0f} MB, median of {REPEATS}")
        for column in ("path", "time (s)", "lines/s", "peak RSS (MB)"):
            table.add_column(column)
        for label, case in CASES.items():
            runs = [measure(case, path) for _ in range(REPEATS)]
            seconds = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            table.add_row(label, f"{seconds:.2f}", f"{LINES / seconds:,.0f}", f"{peak:,.0f}")
        console.print(table)


if __name__ == "__main__":
    main()
