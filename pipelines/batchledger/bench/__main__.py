"""Entry point of `python -m batchledger.bench` (what `make bench` runs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rich.console import Console

from batchledger.bench import cases
from batchledger.bench.report import Row, machine, table
from batchledger.paths import PROJECT_ROOT

SMALL_LINES = 20


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").replace("_", "").replace(",", "")
    try:
        number = int(value) if value else default
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None
    if number < 1:
        raise SystemExit(f"{name} must be at least 1")
    return number


def _cases() -> list[str]:
    chosen = [c.strip().lower() for c in os.environ.get("BENCH_CASES", "large,small").split(",")]
    known = {"large", "small"}
    unknown = [c for c in chosen if c not in known]
    if unknown or not chosen:
        raise SystemExit(f"BENCH_CASES: expected a comma-separated list of {sorted(known)}")
    return chosen


def _scratch_parent() -> Path | None:
    """$TMPDIR when set, else data/ (the bench writes gigabytes; /tmp is often small)."""
    if os.environ.get("TMPDIR"):
        return None
    folder = PROJECT_ROOT / "data"
    folder.mkdir(exist_ok=True)
    return folder


def main() -> None:
    lines = _int("BENCH_LINES", 1_000_000)
    repeats = _int("BENCH_REPEATS", 3)
    small_jobs = _int("BENCH_SMALL_JOBS", 2_000)
    chosen = _cases()
    # The table is wide; piped into a file or docs it must not wrap at 80 columns.
    console = Console(width=max(Console().width, 180))
    console.print(f"[bold]Machine:[/] {machine()}")
    console.print("Figures only, never asserted; on a shared machine they are noisy.")

    def say(message: str) -> None:
        console.print(f"[dim]... {message}[/]")

    rows: list[Row] = []
    for case in chosen:
        with tempfile.TemporaryDirectory(prefix="bench-", dir=_scratch_parent()) as tmp:
            if case == "large":
                rows += cases.large(lines, repeats, Path(tmp), say)
            else:
                rows += cases.small(small_jobs, SMALL_LINES, Path(tmp), say)
    title = (
        f"batchledger bench: L = {lines:,} result lines in jobs of {cases.JOB_LINES:,}, "
        f"S = {small_jobs:,} jobs x {SMALL_LINES} lines"
    )
    console.print(table(title, rows))


if __name__ == "__main__":
    main()
