"""Refresh the serverless rows of `prices/model_prices.csv` from genai-prices' bundled data.

Run it as `python -m batchledger.prices_refresh [--dry-run] [--as-of YYYY-MM-DD] [--csv PATH]`.

The price CSV is append-only: a changed price becomes a new row whose `valid_from` is the
refresh date, and no existing line is ever rewritten (the file is opened in append mode). The
old row keeps its empty `valid_to`; its window ends where the new row's begins (see
`prices/README.md`). Only the bundled snapshot is read, never the network.

Rules, per Together model in genai-prices (its id and exact-match aliases):
- no row yet: append one (a model new to the catalog);
- the row in force came from genai-prices and a figure changed: append a row (figures that
  genai-prices lacks, such as a cached rate taken from another dataset, are carried forward);
- the row in force came from another source (a hand choice, LiteLLM, a negotiated rate):
  keep it and report the disagreement, because that choice was deliberate;
- a row already starts on or after the refresh date: leave it.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from batchledger.pricing import (
    PriceRow,
    format_decimal,
    latest_row,
    read_price_rows,
    row_in_force,
)

PROVIDER = "together"
SOURCE_PREFIX = "genai-prices"
DEFAULT_CSV = Path(__file__).resolve().parents[2] / "prices" / "model_prices.csv"


@dataclass(frozen=True)
class CatalogPrice:
    """One Together model's serverless figures in genai-prices on a date (USD per million)."""

    model: str
    usd_per_million_input_tokens: Decimal | None
    usd_per_million_output_tokens: Decimal | None
    usd_per_million_cached_input_tokens: Decimal | None


@dataclass(frozen=True)
class Decision:
    """What the refresh does for one model: `append`, `unchanged`, `kept` or `skipped`."""

    model: str
    action: str
    reason: str
    row: PriceRow | None = None


def genai_prices_source() -> str:
    from genai_prices import __version__

    return f"{SOURCE_PREFIX} {__version__}"


def _exact_names(model_id: str, match: object) -> list[str]:
    """The model id plus every exact-match alias of its match clause, in order, deduplicated."""
    from genai_prices.types import ClauseEquals, ClauseOr

    names = [model_id]
    clauses: list[object] = list(match.or_) if isinstance(match, ClauseOr) else [match]
    names += [clause.equals for clause in clauses if isinstance(clause, ClauseEquals)]
    return list(dict.fromkeys(names))


def _decimal_or_none(value: object) -> Decimal | None:
    # Tiered prices (a TieredPrices object) cannot be one CSV figure; treat them as absent.
    return value if isinstance(value, Decimal) else None


def together_catalog(as_of: date) -> list[CatalogPrice]:
    """Together's models and prices in the installed genai-prices snapshot, as of `as_of` (UTC)."""
    from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

    provider = find_provider_by_id(get_snapshot().providers, PROVIDER)
    if provider is None:
        raise LookupError("genai-prices has no 'together' provider")
    moment = datetime.combine(as_of, time(), tzinfo=UTC)
    catalog: list[CatalogPrice] = []
    for model in provider.models:
        prices = model.get_prices(moment)
        for name in _exact_names(model.id, model.match):
            catalog.append(
                CatalogPrice(
                    model=name,
                    usd_per_million_input_tokens=_decimal_or_none(prices.input_mtok),
                    usd_per_million_output_tokens=_decimal_or_none(prices.output_mtok),
                    usd_per_million_cached_input_tokens=_decimal_or_none(prices.cache_read_mtok),
                )
            )
    return catalog


def _figures(row: PriceRow) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    return (
        row.usd_per_million_input_tokens,
        row.usd_per_million_output_tokens,
        row.usd_per_million_cached_input_tokens,
    )


def _merge(
    offered: tuple[Decimal | None, Decimal | None, Decimal | None], current: PriceRow
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """genai-prices' figures, keeping the current row's figure wherever genai-prices has none."""
    old = _figures(current)
    return (
        offered[0] if offered[0] is not None else old[0],
        offered[1] if offered[1] is not None else old[1],
        offered[2] if offered[2] is not None else old[2],
    )


def _describe(figures: Sequence[Decimal | None]) -> str:
    return "/".join(format_decimal(value) or "-" for value in figures)


def decide(rows: Sequence[PriceRow], price: CatalogPrice, as_of: date, source: str) -> Decision:
    """The refresh decision for one catalog model against the existing rows."""
    key = (PROVIDER, price.model, "serverless")
    offered = (
        price.usd_per_million_input_tokens,
        price.usd_per_million_output_tokens,
        price.usd_per_million_cached_input_tokens,
    )
    current = row_in_force(rows, key, as_of)
    if current is not None and _merge(offered, current) == _figures(current):
        return Decision(price.model, "unchanged", "same figures")
    if current is not None and not current.source.startswith(SOURCE_PREFIX):
        return Decision(
            price.model,
            "kept",
            f"row in force is from {current.source!r} at {_describe(_figures(current))}; "
            f"genai-prices says {_describe(offered)}",
        )
    latest = latest_row(rows, key)
    if latest is not None and latest.valid_from >= as_of:
        return Decision(price.model, "skipped", f"a row already starts on {latest.valid_from}")
    if current is None:
        if offered[0] is None or offered[1] is None:
            return Decision(price.model, "skipped", "genai-prices lacks an input or output rate")
        row = PriceRow(
            provider=PROVIDER,
            model=price.model,
            pricing_mode="serverless",
            usd_per_million_input_tokens=offered[0],
            usd_per_million_output_tokens=offered[1],
            usd_per_million_cached_input_tokens=offered[2],
            valid_from=as_of,
            valid_to=None,
            source=source,
        )
        reason = "new model" if latest is None else f"no row in force on {as_of}"
        return Decision(price.model, "append", reason, row)
    old = _figures(current)
    merged = _merge(offered, current)
    carried = [
        name
        for name, new, kept in zip(("input", "output", "cached"), offered, old, strict=True)
        if new is None and kept is not None
    ]
    note = f" ({', '.join(carried)} rate carried from the previous row)" if carried else ""
    row = replace(
        current,
        usd_per_million_input_tokens=merged[0],
        usd_per_million_output_tokens=merged[1],
        usd_per_million_cached_input_tokens=merged[2],
        valid_from=as_of,
        valid_to=None,
        source=source + note,
    )
    return Decision(price.model, "append", f"{_describe(old)} -> {_describe(merged)}", row)


def plan_refresh(
    rows: Sequence[PriceRow], catalog: Sequence[CatalogPrice], as_of: date, source: str
) -> list[Decision]:
    """One decision per catalog model, in catalog order."""
    return [decide(rows, price, as_of, source) for price in catalog]


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def append_rows(path: Path, rows: Sequence[PriceRow]) -> None:
    """Append rows to the CSV without touching existing bytes (adds a final newline if missing)."""
    if not rows:
        return
    with path.open("a", newline="", encoding="utf-8") as handle:
        if not _ends_with_newline(path):
            handle.write("\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerows(row.to_csv_fields() for row in rows)


def refresh(csv_path: Path, as_of: date, *, dry_run: bool = False) -> list[Decision]:
    """Plan the refresh and, unless `dry_run`, append the new rows. Returns every decision."""
    rows = read_price_rows(csv_path)
    decisions = plan_refresh(rows, together_catalog(as_of), as_of, genai_prices_source())
    if not dry_run:
        append_rows(csv_path, [decision.row for decision in decisions if decision.row])
    return decisions


def _report(decisions: Sequence[Decision], csv_path: Path, dry_run: bool) -> str:
    appends = [decision for decision in decisions if decision.row is not None]
    lines = [
        f"{'would append' if dry_run else 'appended'} {len(appends)} row(s) to {csv_path}"
        + (":" if appends else "")
    ]
    lines += [
        f"  {','.join(decision.row.to_csv_fields())}    # {decision.reason}"
        for decision in appends
        if decision.row is not None
    ]
    for decision in decisions:
        if decision.action in ("kept", "skipped"):
            lines.append(f"{decision.action}: {decision.model}: {decision.reason}")
    unchanged = sum(decision.action == "unchanged" for decision in decisions)
    lines.append(f"{unchanged} model(s) unchanged")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batchledger.prices_refresh",
        description="Append dated serverless price rows from genai-prices' bundled data.",
    )
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="price CSV to refresh")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=datetime.now(tz=UTC).date(),
        help="date (UTC) the catalog is read for; new rows get it as valid_from (default: today)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be appended")
    args = parser.parse_args(argv)
    decisions = refresh(args.csv, args.as_of, dry_run=args.dry_run)
    print(_report(decisions, args.csv, args.dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
