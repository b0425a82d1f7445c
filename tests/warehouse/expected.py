"""The marts the fixture should produce, computed in plain Python with Decimal.

Deliberately independent of the SQL: it reads the fixture's Python rows and the price CSV with
the csv module, and applies the pricing contract (issue 3) directly.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from . import raw_fixture

MILLION = Decimal(1_000_000)
TERMINAL = {"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"}


@dataclass(frozen=True)
class Price:
    model: str
    mode: str
    input_rate: Decimal
    output_rate: Decimal
    cached_rate: Decimal | None
    valid_from: date
    ends: date | None


def load_prices(path: Path) -> list[Price]:
    """Price rows with windows: each ends at its valid_to, else at the next row's valid_from."""
    with path.open(newline="") as handle:
        records = list(csv.DictReader(handle))
    by_key: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for record in records:
        by_key[(record["model"], record["pricing_mode"])].append(record)
    prices = []
    for (model, mode), rows in by_key.items():
        rows.sort(key=lambda row: row["valid_from"])
        for index, row in enumerate(rows):
            following = rows[index + 1]["valid_from"] if index + 1 < len(rows) else ""
            end = row["valid_to"] or following
            prices.append(
                Price(
                    model=model,
                    mode=mode,
                    input_rate=Decimal(row["usd_per_million_input_tokens"]),
                    output_rate=Decimal(row["usd_per_million_output_tokens"]),
                    cached_rate=Decimal(row["usd_per_million_cached_input_tokens"])
                    if row["usd_per_million_cached_input_tokens"]
                    else None,
                    valid_from=date.fromisoformat(row["valid_from"]),
                    ends=date.fromisoformat(end) if end else None,
                )
            )
    return prices


def price_on(prices: Iterable[Price], model: str, mode: str, day: date) -> Price | None:
    matches = [
        price
        for price in prices
        if price.model == model
        and price.mode == mode
        and price.valid_from <= day
        and (price.ends is None or day < price.ends)
    ]
    assert len(matches) <= 1, f"overlapping prices for {model} {mode} on {day}"
    return matches[0] if matches else None


def usd(prompt: int, cached: int, completion: int, price: Price) -> tuple[Decimal, Decimal]:
    """(input USD, output USD) for the tokens at `price`; cached tokens at the cached rate."""
    cached_billed = min(cached, prompt) if price.cached_rate is not None else 0
    input_usd = (
        Decimal(prompt - cached_billed) * price.input_rate
        + Decimal(cached_billed) * (price.cached_rate or Decimal(0))
    ) / MILLION
    return input_usd, Decimal(completion) * price.output_rate / MILLION


@dataclass
class Item:
    batch_id: str
    custom_id: str
    model: str
    status: str
    is_orphan: bool
    used_at: datetime
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    pricing_mode: str | None
    cost_usd: Decimal | None
    realtime_cost_usd: Decimal | None
    savings_usd: Decimal | None
    cohort: dict[str, str] = field(default_factory=dict)

    @property
    def usage_month(self) -> date:
        return self.used_at.date().replace(day=1)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _cohort(metadata: str | None) -> dict[str, str]:
    if metadata is None:
        return {}
    parsed: dict[str, Any] = json.loads(metadata)
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in parsed.items()
        if value is not None
    }


def expected_items(price_csv: Path) -> dict[tuple[str, str], Item]:
    prices = load_prices(price_csv)
    batches = {batch["id"]: batch for batch in raw_fixture.BATCHES}
    batch_by_input = {batch["input_file_id"]: batch["id"] for batch in raw_fixture.BATCHES}
    requests = {
        (batch_by_input[request["file_id"]], request["custom_id"]): request
        for request in raw_fixture.REQUESTS
    }
    results = {(result["batch_id"], result["custom_id"]): result for result in raw_fixture.RESULTS}
    items: dict[tuple[str, str], Item] = {}
    for key in sorted(set(requests) | set(results)):
        batch = batches[key[0]]
        request, result = requests.get(key), results.get(key)
        usage = json.loads(result["usage"]) if result and result["usage"] else {}
        if result is None:
            status = "not_processed" if batch["status"] in TERMINAL else "pending"
        elif result["file_kind"] == "output" and result["status_code"] == 200:
            status = "succeeded"
        else:
            status = "failed"
        if result and result["created"]:
            used_at = datetime.fromtimestamp(result["created"], tz=UTC)
        else:
            used_at = batch["completed_at"] or batch["created_at"]
        model = (request and request["model"]) or (result and result["model"]) or batch["model_id"]
        prompt = usage.get("prompt_tokens", 0)
        completion = usage.get("completion_tokens", 0)
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens", usage.get("cached_tokens", 0))
        day = used_at.astimezone(UTC).date()
        batch_price = price_on(prices, model, "batch", day)
        serverless_price = price_on(prices, model, "serverless", day)
        billed = batch_price or serverless_price
        cost = sum(usd(prompt, cached, completion, billed)) if billed else None
        realtime = (
            sum(usd(prompt, cached, completion, serverless_price)) if serverless_price else None
        )
        items[key] = Item(
            batch_id=key[0],
            custom_id=key[1],
            model=model,
            status=status,
            is_orphan=request is None,
            used_at=_naive_utc(used_at),
            prompt_tokens=prompt,
            cached_prompt_tokens=cached,
            completion_tokens=completion,
            total_tokens=usage.get("total_tokens", prompt + completion),
            pricing_mode=("batch" if batch_price else "serverless") if billed else None,
            cost_usd=cost,
            realtime_cost_usd=realtime,
            savings_usd=realtime - cost if realtime is not None and cost is not None else None,
            cohort=_cohort(request["metadata"]) if request else {},
        )
    return items


@dataclass
class Totals:
    items: int = 0
    succeeded: int = 0
    failed: int = 0
    not_processed: int = 0
    pending: int = 0
    unpriced: int = 0
    total_tokens: int = 0
    cost_usd: Decimal | None = None
    realtime_cost_usd: Decimal | None = None
    savings_usd: Decimal | None = None

    def add(self, item: Item) -> None:
        self.items += 1
        setattr(self, item.status, getattr(self, item.status) + 1)
        self.unpriced += item.pricing_mode is None
        self.total_tokens += item.total_tokens
        # SQL sums skip nulls, and a sum over nothing but nulls is null.
        for name in ("cost_usd", "realtime_cost_usd", "savings_usd"):
            value = getattr(item, name)
            if value is not None:
                setattr(self, name, (getattr(self, name) or Decimal(0)) + value)


def totals_by(items: Iterable[Item], key: Any) -> dict[Any, Totals]:
    grouped: dict[Any, Totals] = defaultdict(Totals)
    for item in items:
        grouped[key(item)].add(item)
    return dict(grouped)


def totals_by_cohort(items: list[Item]) -> dict[tuple[date, str, str], Totals]:
    """Every key seen on any item, in every month; items without it are '(unassigned)'."""
    keys = {key for item in items for key in item.cohort}
    grouped: dict[tuple[date, str, str], Totals] = defaultdict(Totals)
    for item in items:
        for key in keys:
            grouped[(item.usage_month, key, item.cohort.get(key, "(unassigned)"))].add(item)
    return dict(grouped)


def expected_demo_items(scenario: Any, price_csv: Path) -> dict[tuple[str, str], Item]:
    """Items of the emulator's demo scenario as the marts should show them at `scenario.now`.

    Reads only the scenario's ground truth (`ScenarioJob`, `ScenarioItem`): a job not finished
    by `now` has no result files yet, so its items are pending with no usage.
    """
    prices = load_prices(price_csv)
    items: dict[tuple[str, str], Item] = {}
    for job in scenario.jobs:
        finished = job.is_terminal_at(scenario.now)
        completed_at = job.finished_at if finished else None
        for source in job.items:
            status = source.outcome if finished else "pending"
            has_usage = status == "succeeded"
            prompt = source.prompt_tokens if has_usage else 0
            completion = source.completion_tokens if has_usage else 0
            cached = (source.cached_tokens or 0) if has_usage else 0
            if has_usage and source.created is not None:
                used_at = datetime.fromtimestamp(source.created, tz=UTC)
            else:
                used_at = completed_at or job.created_at
            day = used_at.astimezone(UTC).date()
            batch_price = price_on(prices, source.model, "batch", day)
            serverless_price = price_on(prices, source.model, "serverless", day)
            billed = batch_price or serverless_price
            cost = sum(usd(prompt, cached, completion, billed)) if billed else None
            realtime = (
                sum(usd(prompt, cached, completion, serverless_price)) if serverless_price else None
            )
            items[(job.batch_id, source.custom_id)] = Item(
                batch_id=job.batch_id,
                custom_id=source.custom_id,
                model=source.model,
                status=status,
                is_orphan=False,
                used_at=_naive_utc(used_at),
                prompt_tokens=prompt,
                cached_prompt_tokens=cached,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                pricing_mode=("batch" if batch_price else "serverless") if billed else None,
                cost_usd=cost,
                realtime_cost_usd=realtime,
                savings_usd=realtime - cost if realtime is not None and cost is not None else None,
                cohort=dict(source.metadata or {}),
            )
    return items


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, object]]:
    result = con.execute(sql)
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def assert_totals(row: dict[str, object], totals: Totals, where: object) -> None:
    actual = {
        "items": row["items_total"],
        "succeeded": row["items_succeeded"],
        "failed": row["items_failed"],
        "not_processed": row["items_not_processed"],
        "pending": row["items_pending"],
        "unpriced": row["unpriced_items"],
        "total_tokens": row["total_tokens"],
        "cost_usd": row["cost_usd"],
        "realtime_cost_usd": row["realtime_cost_usd"],
        "savings_usd": row["savings_usd"],
    }
    assert actual == vars(totals), where
