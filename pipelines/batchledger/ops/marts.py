"""Read-only look-ups in the published warehouse; every one degrades to "unknown"."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    # Items with no price (or flagged usage): their cost is not in cost_usd.
    unpriced_items: int = 0
    # False while the job runs: its figures so far, not final.
    is_cost_final: bool = True
    # Seconds of audio its results report (an audio job has no tokens), or None.
    audio_seconds: Decimal | None = None
    # On a dedicated endpoint: billed by the endpoint's hours, not per token or minute.
    is_dedicated: bool = False

    @property
    def pricing_kind(self) -> str:
        """How the job is billed: `dedicated` (an endpoint's hours), `audio` (minutes of audio)
        or `tokens`."""
        if self.is_dedicated:
            return "dedicated"
        return "audio" if self.audio_seconds else "tokens"


# A job is dedicated when its items run on a dedicated endpoint (fct_batch_items, the one
# place the marts decide it).
_QUERY = """
    select batch_id, model, status, cast(created_at as varchar), items_succeeded, items_failed,
        items_not_processed, total_tokens, cost_usd, unpriced_items, is_cost_final,
        audio_seconds,
        batch_id in (
            select items.batch_id from marts.fct_batch_items as items
            where items.dedicated_endpoint is not null
        ) as is_dedicated
    from marts.cost_by_job
"""


def _fetch(db_path: Path, query: str) -> list[tuple[Any, ...]]:
    """Rows of `query` on the published warehouse, or [] when the file or mart is missing."""
    if not db_path.exists():
        return []
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except (duckdb.Error, duckdb.ConnectionException):
        # The same process (an ingest just now) may hold it open with another configuration.
        try:
            con = duckdb.connect(str(db_path))
        except (duckdb.Error, duckdb.ConnectionException):
            return []
    try:
        return con.execute(query).fetchall()
    except duckdb.Error:
        return []  # no marts yet, or a mart from an older build with other columns
    finally:
        con.close()


def job_figures(db_path: Path) -> dict[str, JobFigures]:
    """Per-job counts and cost from marts.cost_by_job, or {} while the mart does not exist."""
    rows = _fetch(db_path, _QUERY)
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
            unpriced_items=int(row[9] or 0),
            is_cost_final=bool(row[10]),
            audio_seconds=Decimal(row[11]) if row[11] else None,
            is_dedicated=bool(row[12]),
        )
        for row in rows
    }


@dataclass(frozen=True)
class BudgetFigures:
    budget_month: str
    scope_key: str
    scope_value: str
    budget_usd: Decimal
    spent_usd: Decimal
    percent_used: Decimal | None
    forecast_usd: Decimal | None
    month_state: str

    @property
    def scope(self) -> str:
        return "total" if self.scope_key == "all" else f"{self.scope_key}={self.scope_value}"


_BUDGET_QUERY = """
    select left(cast(budget_month as varchar), 7) as budget_month, scope_key, scope_value,
        budget_usd, spent_usd, percent_used,
        forecast_usd, month_state
    from marts.budget_status
    order by budget_month, scope_key, scope_value
"""


def budget_figures(db_path: Path) -> list[BudgetFigures]:
    """Every row of marts.budget_status, or [] while the mart does not exist (budget_month as
    text YYYY-MM, the form alert messages and their dedup keys use)."""
    return [
        BudgetFigures(
            budget_month=str(row[0]),
            scope_key=str(row[1]),
            scope_value=str(row[2]),
            budget_usd=Decimal(row[3]),
            spent_usd=Decimal(row[4]),
            percent_used=Decimal(row[5]) if row[5] is not None else None,
            forecast_usd=Decimal(row[6]) if row[6] is not None else None,
            month_state=str(row[7]),
        )
        for row in _fetch(db_path, _BUDGET_QUERY)
    ]
