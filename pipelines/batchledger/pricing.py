"""Read the price seed (`prices/model_prices.csv`) and resolve the row in force on a date.

The CSV is append-only. A row's window starts at `valid_from` (inclusive) and ends at the
earlier of its own `valid_to` and the next row's `valid_from` for the same
(provider, model, pricing_mode), both exclusive. dbt's `stg_prices__model_prices` derives the
same windows; `prices/README.md` explains why.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

PRICE_COLUMNS: tuple[str, ...] = (
    "provider",
    "model",
    "pricing_mode",
    "usd_per_million_input_tokens",
    "usd_per_million_output_tokens",
    "usd_per_million_cached_input_tokens",
    "valid_from",
    "valid_to",
    "source",
    # Added after the first rows (issue 11): rows written before it end at `source`, and a
    # missing trailing field reads as empty.
    "usd_per_audio_minute",
)
PRICING_MODES: frozenset[str] = frozenset({"serverless", "batch"})
# The two price seeds, as the user's messages name them: token rates, and the billing windows
# of dedicated endpoints (prices/README.md).
MODEL_PRICES = "prices/model_prices.csv"
DEDICATED_ENDPOINTS = "prices/dedicated_endpoints.csv"

# Models Together's batch page lists under "Models not available for batch" ("Batch jobs that
# target these models will fail"): docs.together.ai/docs/inference/batch/overview, as seen on
# 2026-11-28 (prices/README.md). `submit` refuses them (a warning with --force). A model that
# merely lacks a batch discount is not here: it runs at standard rates.
NOT_AVAILABLE_FOR_BATCH: frozenset[str] = frozenset(
    {
        "deepseek-ai/DeepSeek-R1",
        "deepseek-ai/DeepSeek-V3.1",
        "deepseek-ai/DeepSeek-V4-Pro",
        "MiniMaxAI/MiniMax-M2.7",
        "moonshotai/Kimi-K2.5",
        "moonshotai/Kimi-K2.6",
    }
)
# Together's model ids are case-insensitive in practice (`moonshotai/kimi-k2.6` names the same
# model as `moonshotai/Kimi-K2.6`), so the check compares case-folded names.
_NOT_AVAILABLE_FOR_BATCH_FOLDED: frozenset[str] = frozenset(
    model.casefold() for model in NOT_AVAILABLE_FOR_BATCH
)


def is_not_available_for_batch(model: str) -> bool:
    """Whether `model`, in any letter case, is on the batch page's "not available" list."""
    return model.casefold() in _NOT_AVAILABLE_FOR_BATCH_FOLDED


PriceKey = tuple[str, str, str]


@dataclass(frozen=True)
class PriceRow:
    """One line of the price seed: token rates are USD per million tokens, the audio rate USD
    per minute of audio. A row has both token rates (a text model), an audio rate (a speech
    model such as Whisper), or both."""

    provider: str
    model: str
    pricing_mode: str
    usd_per_million_input_tokens: Decimal | None
    usd_per_million_output_tokens: Decimal | None
    usd_per_million_cached_input_tokens: Decimal | None
    valid_from: date
    valid_to: date | None
    source: str
    usd_per_audio_minute: Decimal | None = None

    @property
    def has_token_rates(self) -> bool:
        return (
            self.usd_per_million_input_tokens is not None
            and self.usd_per_million_output_tokens is not None
        )

    @property
    def key(self) -> PriceKey:
        return (self.provider, self.model, self.pricing_mode)

    def to_csv_fields(self) -> list[str]:
        return [
            self.provider,
            self.model,
            self.pricing_mode,
            format_decimal(self.usd_per_million_input_tokens),
            format_decimal(self.usd_per_million_output_tokens),
            format_decimal(self.usd_per_million_cached_input_tokens),
            self.valid_from.isoformat(),
            self.valid_to.isoformat() if self.valid_to else "",
            self.source,
            format_decimal(self.usd_per_audio_minute),
        ]


def format_decimal(value: Decimal | None) -> str:
    """Plain notation without exponent or trailing zeros (`1E+1` becomes `10`)."""
    if value is None:
        return ""
    return format(value.normalize(), "f")


def _optional_decimal(text: str | None) -> Decimal | None:
    # None: a row written before its column existed (csv.DictReader's missing trailing field).
    return Decimal(text) if text and text.strip() else None


def _optional_date(text: str) -> date | None:
    return date.fromisoformat(text) if text.strip() else None


def parse_price_row(record: dict[str, str]) -> PriceRow:
    """Turn one CSV record into a `PriceRow`; raises ValueError on a malformed line."""
    mode = record["pricing_mode"]
    if mode not in PRICING_MODES:
        raise ValueError(f"unknown pricing_mode {mode!r} for {record['model']!r}")
    row = PriceRow(
        provider=record["provider"],
        model=record["model"],
        pricing_mode=mode,
        usd_per_million_input_tokens=_optional_decimal(record["usd_per_million_input_tokens"]),
        usd_per_million_output_tokens=_optional_decimal(record["usd_per_million_output_tokens"]),
        usd_per_million_cached_input_tokens=_optional_decimal(
            record["usd_per_million_cached_input_tokens"]
        ),
        valid_from=date.fromisoformat(record["valid_from"]),
        valid_to=_optional_date(record["valid_to"]),
        source=record["source"],
        usd_per_audio_minute=_optional_decimal(record.get("usd_per_audio_minute")),
    )
    if not row.has_token_rates and row.usd_per_audio_minute is None:
        raise ValueError(
            f"{record['model']!r} ({mode}, {record['valid_from']}): a row needs input and "
            "output token rates, an audio rate, or both"
        )
    return row


def read_price_rows(path: Path) -> list[PriceRow]:
    """All rows of the price CSV in file order; the header must match `PRICE_COLUMNS` exactly."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != PRICE_COLUMNS:
            raise ValueError(f"{path}: header must be {','.join(PRICE_COLUMNS)}")
        return [parse_price_row(record) for record in reader]


def effective_windows(rows: Iterable[PriceRow]) -> list[tuple[PriceRow, date | None]]:
    """Each row with the exclusive end of its derived window (None: still in force)."""
    by_key: dict[PriceKey, list[PriceRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    windows: list[tuple[PriceRow, date | None]] = []
    for key_rows in by_key.values():
        ordered = sorted(key_rows, key=lambda row: row.valid_from)
        for index, row in enumerate(ordered):
            next_from = ordered[index + 1].valid_from if index + 1 < len(ordered) else None
            ends = [bound for bound in (row.valid_to, next_from) if bound is not None]
            windows.append((row, min(ends) if ends else None))
    return windows


def row_in_force(rows: Sequence[PriceRow], key: PriceKey, on: date) -> PriceRow | None:
    """The row for `key` whose derived window contains `on`, if any."""
    for row, ends in effective_windows(row for row in rows if row.key == key):
        if row.valid_from <= on and (ends is None or on < ends):
            return row
    return None


def latest_row(rows: Sequence[PriceRow], key: PriceKey) -> PriceRow | None:
    """The row for `key` with the latest `valid_from`, whether or not it is still in force."""
    candidates = [row for row in rows if row.key == key]
    return max(candidates, key=lambda row: row.valid_from) if candidates else None


def endpoint_key(name: str) -> str:
    """What a dedicated endpoint's name is matched on: lower case, as the marts' SQL `lower()`
    does (int_dedicated_endpoints_unioned), since model ids are case-insensitive in practice."""
    return name.lower()


@dataclass(frozen=True)
class DedicatedWindow:
    """One billing window of a dedicated endpoint (prices/dedicated_endpoints.csv): the
    endpoint's usd_per_hour from billed_from to billed_to (naive UTC)."""

    endpoint: str
    usd_per_hour: Decimal
    billed_from: datetime
    billed_to: datetime


def read_dedicated_windows(path: Path) -> list[DedicatedWindow]:
    """The seed's billing windows, in file order ([] when it does not exist)."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            DedicatedWindow(
                endpoint=record["endpoint"],
                usd_per_hour=Decimal(record["usd_per_hour"]),
                billed_from=datetime.fromisoformat(record["billed_from"]),
                billed_to=datetime.fromisoformat(record["billed_to"]),
            )
            for record in csv.DictReader(handle)
        ]
