"""The bench's cases: L (large result files) and S (many small files), each on data it generates.

Each case writes its jobs to disk, serves them from the bulk emulator on a thread of this process
(so the emulator's memory is never counted as ours) and runs the real `batchledger` CLI against
it as a child process, exactly as a user's `make ingest` would with a real key.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb

from batchledger.bench.children import ChildRun, cli_child, python_child, run_child
from batchledger.bench.report import Row
from batchledger.emulator import DEMO_NOW, BulkJob, Emulator, Scenario, write_bulk_jobs
from batchledger.emulator.bulk import job_span

# Not a secret: the emulator accepts any key. It still must never show up in output.
BENCH_KEY = "bench-emulator-key"
JOB_LINES = 50_000
NOOP_TARGET_S = 5.0
NOOP_REQUESTS = 3  # one per list endpoint: batches, files, dedicated endpoints
SMALL_COLD_TARGET_S = 30.0
FULL_REFRESH_TARGET_S = 60.0  # at 10M lines
PARSE_RATIO_TARGET = 0.5

Say = Callable[[str], None]


@dataclass(frozen=True)
class Dataset:
    folder: Path
    jobs: list[BulkJob]

    @property
    def requests(self) -> int:
        return sum(j.input.lines for j in self.jobs)

    @property
    def results(self) -> int:
        return sum(j.result_lines for j in self.jobs)

    @property
    def files(self) -> int:
        return sum(1 + (j.output is not None) + (j.error is not None) for j in self.jobs)

    @property
    def gigabytes(self) -> float:
        paths = [f.path for j in self.jobs for f in (j.input, j.output, j.error) if f is not None]
        return sum(p.stat().st_size for p in paths) / 1e9


def generate(folder: Path, jobs: int, lines_per_job: int) -> tuple[Dataset, float]:
    started = time.perf_counter()
    written = write_bulk_jobs(folder, jobs, lines_per_job, now=DEMO_NOW)
    return Dataset(folder, written), time.perf_counter() - started


def loaded_counts(db_path: Path) -> tuple[int, int]:
    """(batch_requests, batch_results) rows in a published warehouse."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        counts = []
        for table in ("batch_requests", "batch_results"):
            row = con.execute(f"select count(*) from raw_together.{table}").fetchone()
            counts.append(int(row[0]) if row else 0)
        return counts[0], counts[1]
    finally:
        con.close()


def _count_check(db_path: Path, requests: int, results: int) -> str:
    got = loaded_counts(db_path)
    if got == (requests, results):
        return f"{results:,} results + {requests:,} requests in warehouse"
    return (
        f"[red]COUNT MISMATCH[/]: {got[1]:,} results, {got[0]:,} requests; "
        f"expected {results:,} and {requests:,}"
    )


def _stages(run: ChildRun) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in run.stages().items())


def _run_row(
    case: str,
    step: str,
    run: ChildRun,
    *,
    target_s: float | None,
    lines: int | None = None,
    detail: str = "",
    target_label: str | None = None,
) -> Row:
    """A row for one CLI run: its time, peaks, stages and, if there is one, its time target."""
    return Row(
        case,
        step,
        run.seconds,
        lines,
        run.peaks_mb(),
        "; ".join(part for part in (detail, _stages(run)) if part),
        target_label or ("" if target_s is None else f"<= {target_s:g} s"),
        None if target_s is None else run.seconds <= target_s,
    )


def _requests(log: list[tuple[str, str]]) -> str:
    def shape(path: str) -> str:
        parts = path.split("/")
        if len(parts) > 3:  # /v1/files/<id>[/content]
            parts[3] = "{id}"
        return "/".join(parts)

    counted = Counter(f"{method} {shape(path)}" for method, path in log)
    return ", ".join(f"{k} x{n}" for k, n in sorted(counted.items()))


def _supports(*args: str) -> bool:
    """Whether the installed CLI knows an option (read from its --help)."""
    command, option = args[:-1], args[-1]
    helped = subprocess.run(
        [*cli_child(*command), "--help"], capture_output=True, text=True, check=False
    )
    return option in helped.stdout


def parse_rows(case: str, data: Dataset, run_dir: Path, repeats: int, say: Say) -> list[Row]:
    """Reference read_json vs our parse over the same output files, each in fresh children."""
    from batchledger.bench.parse import ours_label

    outputs = [str(j.output.path) for j in data.jobs if j.output is not None]
    expected = sum(j.output.lines for j in data.jobs if j.output is not None)
    figures: dict[str, tuple[float, float]] = {}
    for kind in ("reference", "ours"):
        times, peaks = [], []
        for attempt in range(repeats):
            say(f"{case}: {kind} parse, run {attempt + 1} of {repeats}")
            run = run_child(
                python_child("batchledger.bench.parse", kind, *outputs),
                cwd=run_dir,
                label=f"{case}-parse-{kind}",
            )
            reported = json.loads(run.stdout.strip().splitlines()[-1])
            if reported["rows"] != expected:
                raise RuntimeError(f"{kind} parse saw {reported['rows']} rows, not {expected}")
            times.append(float(reported["seconds"]))
            peaks.append(run.tree_peak_mb)
        figures[kind] = (statistics.median(times), max(peaks))
    ratio = figures["reference"][0] / figures["ours"][0]
    return [
        Row(
            case, "reference: DuckDB read_json", figures["reference"][0], expected,
            {"child": figures["reference"][1]}, f"median of {repeats}, explicit columns",
        ),
        Row(
            case, f"our parse ({ours_label()})", figures["ours"][0], expected,
            {"child": figures["ours"][1]}, f"reference/ours = {ratio:.2f}x",
            f">= {PARSE_RATIO_TARGET}x", ratio >= PARSE_RATIO_TARGET,
        ),
    ]  # fmt: skip


def ingest_rows(
    case: str,
    data: Dataset,
    run_dir: Path,
    say: Say,
    *,
    cold_target_s: float | None,
    new_job_target_s: float | None,
    full_refresh: bool,
    full_refresh_target_s: float | None = None,
) -> list[Row]:
    """Cold ingest, no-op ingest, one new job, then transform --full-refresh, on one warehouse."""
    db_path = run_dir / "warehouse.duckdb"
    rows: list[Row] = []
    with Emulator(scenario=Scenario(now=DEMO_NOW), time_scale=0) as emu:
        for job in data.jobs:
            emu.add_bulk_job(job)
        env = {
            "TOGETHER_API_KEY": BENCH_KEY,
            "TOGETHER_BASE_URL": str(emu.base_url),
            "BATCHLEDGER_DB": str(db_path),
        }

        def ingest(label: str) -> ChildRun:
            say(f"{case}: {label} ingest")
            return run_child(cli_child("ingest"), cwd=run_dir, env=env, label=f"{case}-{label}")

        cold = ingest("cold")
        requests, results = data.requests, data.results
        counted = _count_check(db_path, requests, results)
        rows.append(
            _run_row(
                case, "cold ingest (CLI)", cold, target_s=cold_target_s,
                lines=requests + results, detail=counted,
            )
        )  # fmt: skip

        emu.reset_log()
        noop = ingest("no-op")
        log = [(r.method, r.path) for r in emu.request_log]
        up_to_date = "" if noop.up_to_date is None else f"up_to_date={noop.up_to_date}"
        rows.append(_run_row(case, "no-op ingest", noop, target_s=NOOP_TARGET_S, detail=up_to_date))
        rows.append(
            Row(
                case, "no-op HTTP requests", None, None, {}, f"{len(log)}: {_requests(log)}",
                f"{NOOP_REQUESTS} (1 per list)", len(log) == NOOP_REQUESTS, timed=False,
            )
        )  # fmt: skip

        # A job that finished after the last run: move the clock on, then serve it.
        now = emu.advance((job_span() + timedelta(minutes=5)).total_seconds())
        lines = data.jobs[-1].input.lines
        new = write_bulk_jobs(data.folder, 1, lines, now=now, first_index=len(data.jobs))[0]
        emu.add_bulk_job(new)
        added = ingest("new-job")
        requests, results = requests + new.input.lines, results + new.result_lines
        counted = _count_check(db_path, requests, results)
        rows.append(
            _run_row(
                case, f"one new job ({lines:,} lines)", added, target_s=new_job_target_s,
                detail=counted,
            )
        )  # fmt: skip

    if not full_refresh:
        return rows
    target = f"<= {FULL_REFRESH_TARGET_S:g} s at 10M"
    if not _supports("transform", "--full-refresh"):
        rows.append(
            Row(case, "transform --full-refresh", detail="n/a: no such flag yet", target=target)
        )
        return rows
    say(f"{case}: transform --full-refresh")
    refresh = run_child(
        cli_child("transform", "--full-refresh"),
        cwd=run_dir,
        env={"BATCHLEDGER_DB": str(db_path), "TOGETHER_API_KEY": BENCH_KEY},
        label=f"{case}-full-refresh",
    )
    rows.append(
        _run_row(
            case, "transform --full-refresh", refresh, target_s=full_refresh_target_s,
            target_label=target,
        )
    )  # fmt: skip
    return rows


def large(lines: int, repeats: int, root: Path, say: Say) -> list[Row]:
    per_job = min(JOB_LINES, lines)
    jobs = max(1, lines // per_job)
    say(f"L: writing {jobs} jobs of {per_job:,} lines")
    data, seconds = generate(root / "files", jobs, per_job)
    run_dir = root / "run"
    run_dir.mkdir()
    rows = [
        Row(
            "L", "generate data", seconds, data.results,
            detail=f"{jobs} jobs, {data.files:,} files, {data.gigabytes:.2f} GB",
        )
    ]  # fmt: skip
    rows += parse_rows("L", data, run_dir, repeats, say)
    rows += ingest_rows(
        "L",
        data,
        run_dir,
        say,
        cold_target_s=None,
        new_job_target_s=15.0 if data.results <= 1_000_000 else 30.0,
        full_refresh=True,
        full_refresh_target_s=FULL_REFRESH_TARGET_S if data.results >= 10_000_000 else None,
    )
    return rows


def small(jobs: int, lines_per_job: int, root: Path, say: Say) -> list[Row]:
    say(f"S: writing {jobs:,} jobs of {lines_per_job} lines")
    data, seconds = generate(root / "files", jobs, lines_per_job)
    run_dir = root / "run"
    run_dir.mkdir()
    rows = [
        Row(
            "S", "generate data", seconds, data.results,
            detail=f"{jobs:,} jobs, {data.files:,} files, {data.gigabytes:.3f} GB",
        )
    ]  # fmt: skip
    rows += ingest_rows(
        "S",
        data,
        run_dir,
        say,
        cold_target_s=SMALL_COLD_TARGET_S,
        new_job_target_s=None,
        full_refresh=False,
    )
    return rows
