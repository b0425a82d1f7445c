"""What the marts flag for the ingest summary: unpriced models and data-quality issues.

Both read the warehouse a build just wrote. A warehouse built before a mart existed (or by a
failed build) has nothing to show, so a missing table reads as no flags, not as an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from batchledger.pricing import DEDICATED_ENDPOINTS, MODEL_PRICES

# What each data_quality_issues.issue does to the money, for the one-line summary.
ISSUE_EFFECTS = {
    "invalid_usage": "token counts that are not whole numbers in range: item not priced",
    "invalid_status_code": "output line with no HTTP status: item not priced",
    "missing_usage": "succeeded with no usage: item not priced",
    "duplicate_result_line": "second answer to one request: not billed",
    "duplicate_request_line": "custom_id repeated in an input file: ignored",
    "created_out_of_range": "created is no time: job time used",
    "orphan_result": "result with no request: billed on its own",
    "quarantined_line": "unreadable line: not loaded",
}


@dataclass(frozen=True)
class UnpricedModel:
    """A model with succeeded items the price seeds cannot price."""

    model: str
    items: int
    # A dedicated endpoint is billed by the hour: what prices its items is a billing window in
    # dedicated_endpoints.csv covering their usage time, never a token rate.
    is_dedicated: bool

    @property
    def price_file(self) -> str:
        """Where the missing price goes (as audit.assert_all_items_priced's `price_file`)."""
        return DEDICATED_ENDPOINTS if self.is_dedicated else MODEL_PRICES


def unpriced_models(db_path: Path) -> list[UnpricedModel]:
    """Models with succeeded items the price seeds cannot price, with their item counts.
    Items unpriced because their usage is flagged are data-quality issues, not listed here."""
    rows = _rows(
        db_path,
        """
        select coalesce(model, '(unknown)'), count(*), bool_or(dedicated_endpoint is not null)
        from marts.fct_batch_items
        where not is_priced and item_status = 'succeeded' and usage_issue is null
        group by all
        order by 2 desc, 1
        """,
    )
    return [
        UnpricedModel(str(model), int(items), bool(dedicated)) for model, items, dedicated in rows
    ]


def data_quality_counts(db_path: Path) -> list[tuple[str, int]]:
    """Lines in marts.data_quality_issues by issue, most first."""
    return _query(
        db_path,
        "select issue, count(*) from marts.data_quality_issues group by all order by 2 desc, 1",
    )


def _query(db_path: Path, sql: str) -> list[tuple[str, int]]:
    return [(str(name), int(count)) for name, count in _rows(db_path, sql)]


def _rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error:
        return []
    try:
        return con.execute(sql).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()
