"""An upper-bound cost estimate for a batch input: every request uses its whole max_tokens."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from batchledger.ops.validate import Request
from batchledger.paths import PRICES_DIR
from batchledger.pricing import PriceRow, read_price_rows, row_in_force

PRICES_CSV = PRICES_DIR / "model_prices.csv"
PROVIDER = "together"
# Without max_tokens the output is unbounded; assume a generous cap and say so.
ASSUMED_MAX_TOKENS = 4096
CHARS_PER_TOKEN = 4
MILLION = Decimal(1_000_000)


@dataclass
class ModelEstimate:
    model: str
    lines: int = 0
    prompt_tokens: int = 0
    max_output_tokens: int = 0
    lines_without_max_tokens: int = 0
    pricing_mode: str | None = None  # None: unpriced
    cost_usd: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "lines": self.lines,
            "estimated_prompt_tokens": self.prompt_tokens,
            "max_output_tokens": self.max_output_tokens,
            "pricing_mode": self.pricing_mode,
            "cost_usd": str(self.cost_usd) if self.cost_usd is not None else None,
        }


@dataclass
class Estimate:
    models: list[ModelEstimate]
    warnings: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> Decimal | None:
        """None when any model is unpriced: a partial total would understate the bound."""
        costs = [m.cost_usd for m in self.models]
        if any(cost is None for cost in costs):
            return None
        return sum((c for c in costs if c is not None), Decimal(0))

    @property
    def priced_usd(self) -> Decimal:
        return sum((m.cost_usd for m in self.models if m.cost_usd is not None), Decimal(0))


def prompt_chars(body: dict[str, Any]) -> int:
    """Characters of prompt text: chat message contents (text parts too) or a plain prompt."""
    messages = body.get("messages")
    if isinstance(messages, list):
        total = 0
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else message
            if isinstance(content, str):
                total += len(content)
            elif isinstance(content, list):
                total += sum(
                    len(part.get("text") or "") for part in content if isinstance(part, dict)
                )
        return total
    prompt = body.get("prompt")
    return len(prompt) if isinstance(prompt, str) else len(str(prompt or ""))


def estimate(
    requests: list[Request], *, prices_csv: Path = PRICES_CSV, on: datetime | None = None
) -> Estimate:
    by_model: dict[str, ModelEstimate] = defaultdict(lambda: ModelEstimate(model=""))
    for request in requests:
        entry = by_model[request.model]
        entry.model = request.model
        entry.lines += 1
        entry.prompt_tokens += math.ceil(prompt_chars(request.body) / CHARS_PER_TOKEN)
        max_tokens = request.body.get("max_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0:
            entry.max_output_tokens += max_tokens
        else:
            entry.lines_without_max_tokens += 1
            entry.max_output_tokens += ASSUMED_MAX_TOKENS
    rows = read_price_rows(prices_csv) if prices_csv.exists() else []
    today = (on or datetime.now(UTC)).date()
    result = Estimate(models=sorted(by_model.values(), key=lambda m: m.model))
    for entry in result.models:
        _price(entry, rows, today, result.warnings)
        if entry.lines_without_max_tokens:
            result.warnings.append(
                f"{entry.model}: {entry.lines_without_max_tokens} line(s) have no max_tokens; "
                f"the estimate assumes {ASSUMED_MAX_TOKENS} (pass --max-tokens)"
            )
    return result


def _price(entry: ModelEstimate, rows: list[PriceRow], today: Any, warnings: list[str]) -> None:
    batch = row_in_force(rows, (PROVIDER, entry.model, "batch"), today)
    serverless = row_in_force(rows, (PROVIDER, entry.model, "serverless"), today)
    row = batch or serverless
    if row is None:
        warnings.append(f"{entry.model}: no price in prices/; its cost is unknown (UNPRICED)")
        return
    if batch is None:
        warnings.append(f"{entry.model}: no batch discount; estimated at the serverless rate")
    entry.pricing_mode = row.pricing_mode
    entry.cost_usd = (
        Decimal(entry.prompt_tokens) * row.usd_per_million_input_tokens
        + Decimal(entry.max_output_tokens) * row.usd_per_million_output_tokens
    ) / MILLION
