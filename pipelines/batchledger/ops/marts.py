"""Read-only look-ups in the published warehouse; every one degrades to "unknown"."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class JobFigures:
    batch_id: str
    model: str | None
    status: str | None
    created_at: str | None
    items_succeeded: int
    items_failed: int
    items_not_processed: int
    total_tokens: int
    cost_usd: Decimal | None


_QUERY = """
    select batch_id, model, status, cast(created_at as varchar), items_succeeded, items_failed,
        items_not_processed, total_tokens, cost_usd
    from marts.cost_by_job
"""


def job_figures(db_path: Path) -> dict[str, JobFigures]:
    """Per-job counts and cost from marts.cost_by_job, or {} while the mart does not exist."""
    if not db_path.exists():
        return {}
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except (duckdb.Error, duckdb.ConnectionException):
        # The same process (an ingest just now) may hold it open with another configuration.
        try:
            con = duckdb.connect(str(db_path))
        except (duckdb.Error, duckdb.ConnectionException):
            return {}
    try:
        rows = con.execute(_QUERY).fetchall()
    except duckdb.Error:
        return {}  # no marts yet, or a mart from an older build with other columns
    finally:
        con.close()
    return {
        str(row[0]): JobFigures(
            batch_id=str(row[0]),
            model=row[1],
            status=row[2],
            created_at=row[3],
            items_succeeded=int(row[4] or 0),
            items_failed=int(row[5] or 0),
            items_not_processed=int(row[6] or 0),
            total_tokens=int(row[7] or 0),
            cost_usd=Decimal(row[8]) if row[8] is not None else None,
        )
        for row in rows
    }
