"""The published warehouse a read-only command (report, export) reads, and where its output
goes. Nothing here writes the warehouse or takes the ingest lock: a reader opens the
published file read-only, as any BI tool does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from batchledger.settings import DEMO_DB, demo_notice, load_settings, uses_demo


class PublishedError(RuntimeError):
    """No published warehouse to read; the message says what to run."""


@dataclass(frozen=True)
class Published:
    db_path: Path
    # Demo data: the bundled emulator's account (the demo file, or a copy of it by name).
    demo: bool
    # What to print first when the demo was chosen by the one rule (rich markup), else "".
    notice: str = ""


def published_warehouse() -> Published:
    """The warehouse the configured settings name, or the demo's by settings.uses_demo."""
    settings = load_settings()
    notice = ""
    if uses_demo(settings, ingest=False):
        settings = settings.for_demo(settings.base_url, "")
        notice = demo_notice(settings)
    if not settings.db_path.exists():
        raise PublishedError(f"No warehouse at {settings.db_path}: run `make ingest` first")
    demo = settings.demo or settings.db_path.name == DEMO_DB.name
    return Published(settings.db_path, demo, notice)


def report_path(db_path: Path, month: date | None = None) -> Path:
    """The spend report of the warehouse at `db_path`, beside it: data/report.html for
    data/warehouse.duckdb, data/demo-report.html for the demo, <stem>-report.html else; a
    one-month report adds the month (report-2026-11.html), so it never replaces the whole."""
    stem = db_path.stem
    name = "report" if stem == "warehouse" else f"{stem}-report"
    suffix = f"-{month:%Y-%m}" if month is not None else ""
    return db_path.parent / f"{name}{suffix}.html"


def parse_month(value: str) -> date:
    """A YYYY-MM month as the DATE of its first day, as the marts keep months."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", value.strip()):
        raise ValueError(f"a month is YYYY-MM, e.g. 2026-11; got {value!r}")
    year, month = (int(part) for part in value.strip().split("-"))
    if not 1 <= month <= 12:
        raise ValueError(f"no month {month} in {value!r}")
    return date(year, month, 1)
