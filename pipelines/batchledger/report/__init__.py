"""`make report`: the spend of the published warehouse as one HTML page that opens from disk.

read_report_data (data.py) reads the marts, render_report (render.py) draws them; write_report
puts the page beside the warehouse under a temporary name and renames it into place.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from batchledger.report.data import ReportData, read_report_data
from batchledger.report.render import render_report

__all__ = ["ReportData", "read_report_data", "render_report", "write_report"]


def write_report(
    db_path: Path, out: Path, *, month: date | None = None, demo: bool = False
) -> Path:
    """Render the report of the warehouse at `db_path` (read-only) to `out`."""
    page = render_report(read_report_data(db_path, month, demo=demo))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
