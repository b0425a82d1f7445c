"""Pure functions that turn the ops store's records into rows for the warehouse."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from batchledger.store import INVOICE_LINES_FILE, SUBMISSIONS_FILE, TAGS_FILE, Submission


def plain_decimal(value: str | None) -> str | None:
    """A Decimal string in plain notation ("0.000000484", never "4.84E-7"), or None."""
    if value is None:
        return None
    try:
        return format(Decimal(value), "f")
    except InvalidOperation:
        return None


def submission_rows(submissions: list[Submission]) -> list[dict[str, Any]]:
    """One row per batch; a batch recorded twice keeps its last record."""
    latest: dict[str, dict[str, Any]] = {}
    for submission in submissions:
        row = asdict(submission)
        row["estimate_usd"] = plain_decimal(submission.estimate_usd)
        latest[submission.batch_id] = row
    return list(latest.values())


def has_records(folder: Path) -> bool:
    """True when the store holds anything to load (an ingest skips the source otherwise)."""
    return any(
        (folder / name).exists() for name in (SUBMISSIONS_FILE, TAGS_FILE, INVOICE_LINES_FILE)
    )
