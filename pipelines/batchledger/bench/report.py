"""The bench's output: the machine it ran on, and one table per run with targets beside figures."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table


@dataclass
class Row:
    case: str
    step: str
    seconds: float | None = None
    lines: int | None = None  # lines handled, for a lines/s figure
    peaks_mb: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    target: str = ""
    met: bool | None = None  # None: no target, or nothing measured
    timed: bool = True  # False for a count, whose time column stays empty (not "n/a")


def machine() -> str:
    import duckdb

    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {ram_gb:.0f} GB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, DuckDB {duckdb.__version__}"
    )


def _peaks(peaks: dict[str, float]) -> str:
    return ", ".join(f"{name} {mb:,.0f}" for name, mb in peaks.items())


def _met(row: Row) -> str:
    if row.met is None:
        return ""
    return "[green]met[/]" if row.met else "[red]not met[/]"


def table(title: str, rows: list[Row]) -> Table:
    out = Table(title=title, title_justify="left")
    for name, justify in (
        ("case", "left"),
        ("step", "left"),
        ("time (s)", "right"),
        ("lines/s", "right"),
        ("peak RSS (MB)", "left"),
        ("detail", "left"),
        ("target", "left"),
        ("", "left"),
    ):
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        seconds = f"{row.seconds:,.2f}" if row.seconds is not None else "n/a" if row.timed else ""
        rate = (
            f"{row.lines / row.seconds:,.0f}"
            if row.lines and row.seconds and row.seconds > 0
            else ""
        )
        out.add_row(
            row.case, row.step, seconds, rate, _peaks(row.peaks_mb), row.detail, row.target,
            _met(row),
        )  # fmt: skip
    return out
