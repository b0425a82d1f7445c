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
from batchledger.pricing import (
    DEDICATED_ENDPOINTS,
    DedicatedWindow,
    PriceRow,
    endpoint_key,
    read_dedicated_windows,
    read_price_rows,
    row_in_force,
)

PRICES_CSV = PRICES_DIR / "model_prices.csv"
DEDICATED_CSV = PRICES_DIR / "dedicated_endpoints.csv"
PROVIDER = "together"
# Without max_tokens the output is unbounded; assume a generous cap and say so.
ASSUMED_MAX_TOKENS = 4096
CHARS_PER_TOKEN = 4
MILLION = Decimal(1_000_000)
CHAT_ENDPOINT = "/v1/chat/completions"
AUDIO_ENDPOINTS = ("/v1/audio/transcriptions", "/v1/audio/translations")
# The one response format whose audio results report the audio's duration, which is what
# batchledger prices audio on (docs/reference/together-audio-batches.md).
DURATION_FORMAT = "verbose_json"
DEFAULT_AUDIO_FORMAT = "json"  # Together's default


@dataclass
class ModelEstimate:
    model: str
    lines: int = 0
    prompt_tokens: int = 0
    max_output_tokens: int = 0
    lines_without_max_tokens: int = 0
    pricing_mode: str | None = None  # None: unpriced; "dedicated": an endpoint's hours
    cost_usd: Decimal | None = None
    # Audio lines (transcription, translation): priced per minute of audio, which is known
    # only from the results, so they have no upper bound here.
    audio_lines: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "lines": self.lines,
            "estimated_prompt_tokens": self.prompt_tokens,
            "max_output_tokens": self.max_output_tokens,
            "pricing_mode": self.pricing_mode,
            "cost_usd": str(self.cost_usd) if self.cost_usd is not None else None,
            "audio_lines": self.audio_lines,
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


def is_audio_request(request: Request) -> bool:
    """An audio line: `"method": "FILE"` (Together's audio batch lines), or a body with a
    `file` and no `messages`."""
    body = request.body
    return request.extra.get("method") == "FILE" or (
        isinstance(body.get("file"), str) and "messages" not in body
    )


def audio_format_warnings(requests: list[Request]) -> list[str]:
    """One warning per response format without durations that audio lines ask for: their
    results report no duration, so batchledger cannot price them (they are flagged)."""
    lines_by_format: dict[str, list[int]] = defaultdict(list)
    for request in requests:
        if not is_audio_request(request):
            continue
        response_format = request.body.get("response_format", DEFAULT_AUDIO_FORMAT)
        if response_format != DURATION_FORMAT:
            lines_by_format[str(response_format)].append(request.line)
    warnings = []
    for response_format, lines in sorted(lines_by_format.items()):
        shown = ", ".join(str(line) for line in lines[:10]) + (", ..." if len(lines) > 10 else "")
        warnings.append(
            f"{len(lines)} audio line(s) ask for response_format {response_format!r} "
            f"(line {shown}): Together reports the audio's duration only in "
            f"{DURATION_FORMAT}, so batchledger cannot price them (they will show as "
            f"unpriced, never $0); set body.response_format to {DURATION_FORMAT!r}"
        )
    return warnings


def estimate(
    requests: list[Request],
    *,
    prices_csv: Path = PRICES_CSV,
    dedicated_csv: Path = DEDICATED_CSV,
    on: datetime | None = None,
) -> Estimate:
    by_model: dict[str, ModelEstimate] = defaultdict(lambda: ModelEstimate(model=""))
    for request in requests:
        entry = by_model[request.model]
        entry.model = request.model
        entry.lines += 1
        if is_audio_request(request):
            entry.audio_lines += 1
            continue
        entry.prompt_tokens += math.ceil(prompt_chars(request.body) / CHARS_PER_TOKEN)
        max_tokens = request.body.get("max_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0:
            entry.max_output_tokens += max_tokens
        else:
            entry.lines_without_max_tokens += 1
            entry.max_output_tokens += ASSUMED_MAX_TOKENS
    rows = read_price_rows(prices_csv) if prices_csv.exists() else []
    windows = read_dedicated_windows(dedicated_csv)
    now = on or datetime.now(UTC)
    result = Estimate(models=sorted(by_model.values(), key=lambda m: m.model))
    result.warnings.extend(audio_format_warnings(requests))
    for entry in result.models:
        if _dedicated(entry, windows, now, result.warnings):
            continue
        _price(entry, rows, now.date(), result.warnings)
        if entry.lines_without_max_tokens:
            result.warnings.append(
                f"{entry.model}: {entry.lines_without_max_tokens} line(s) have no max_tokens; "
                f"the estimate assumes {ASSUMED_MAX_TOKENS} (pass --max-tokens)"
            )
    return result


def _dedicated(
    entry: ModelEstimate, windows: list[DedicatedWindow], now: datetime, warnings: list[str]
) -> bool:
    """Whether the lines go to a dedicated endpoint the seed names (as the marts match it: the
    seed wins over any token price). Such a job is billed by the endpoint's hours, not per
    token, so it has no estimate of its own; the warning says which window bills it."""
    key = endpoint_key(entry.model)
    mine = [window for window in windows if endpoint_key(window.endpoint) == key]
    if not mine:
        return False
    entry.pricing_mode = "dedicated"
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    current = [w for w in mine if w.billed_to > naive_now]
    if current:
        window = min(current, key=lambda w: w.billed_from)
        warnings.append(
            f"{entry.model}: a dedicated endpoint, billed by the hour from its windows in "
            f"{DEDICATED_ENDPOINTS} ({window.usd_per_hour} USD/hour from "
            f"{window.billed_from:%Y-%m-%d %H:%M} to {window.billed_to:%Y-%m-%d %H:%M} UTC); "
            "the job carries its share of that, not a token price"
        )
    else:
        warnings.append(
            f"{entry.model}: a dedicated endpoint with no billing window from now on in "
            f"{DEDICATED_ENDPOINTS}; its cost is unknown until one is added"
        )
    return True


def _usable(row: PriceRow | None, *, audio: bool) -> PriceRow | None:
    """The row, if it has the rate these lines need (as the marts price them): the audio rate
    for audio lines, both token rates for any other."""
    if row is None:
        return None
    has_rate = row.usd_per_audio_minute is not None if audio else row.has_token_rates
    return row if has_rate else None


def _price(entry: ModelEstimate, rows: list[PriceRow], today: Any, warnings: list[str]) -> None:
    audio = entry.audio_lines > 0
    batch = _usable(row_in_force(rows, (PROVIDER, entry.model, "batch"), today), audio=audio)
    serverless = _usable(
        row_in_force(rows, (PROVIDER, entry.model, "serverless"), today), audio=audio
    )
    row = batch or serverless
    if row is None:
        warnings.append(f"{entry.model}: no price in prices/; its cost is unknown (UNPRICED)")
        return
    if batch is None:
        warnings.append(f"{entry.model}: no batch discount; estimated at the serverless rate")
    entry.pricing_mode = row.pricing_mode
    if entry.audio_lines:
        # Billed per minute of audio, and the audio's length is known only from the results.
        warnings.append(
            f"{entry.model}: {entry.audio_lines} audio line(s) bill {row.usd_per_audio_minute} "
            "USD per minute of audio; their length is unknown before the run, so they have "
            "no upper bound here"
        )
        return
    if row.usd_per_million_input_tokens is None or row.usd_per_million_output_tokens is None:
        return
    entry.cost_usd = (
        Decimal(entry.prompt_tokens) * row.usd_per_million_input_tokens
        + Decimal(entry.max_output_tokens) * row.usd_per_million_output_tokens
    ) / MILLION
