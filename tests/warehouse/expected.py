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
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from . import raw_fixture

MILLION = Decimal(1_000_000)
TERMINAL = {"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"}
MAX_TOKENS_PER_LINE = 100_000_000  # dbt var max_tokens_per_line
MAX_AUDIO_SECONDS_PER_LINE = 14_400  # dbt var max_audio_seconds_per_line
AUDIO_ENDPOINTS = {"/v1/audio/transcriptions", "/v1/audio/translations"}
MICROSECOND = Decimal("0.000001")
ATTODOLLAR = Decimal("1e-18")
# `created` is a usage time only from 2000-01-01 to 2100-01-01 (unix seconds).
CREATED_RANGE = (946_684_800, 4_102_444_800)
# Each fixture input file feeds one batch.
BATCH_BY_INPUT = {batch["input_file_id"]: batch["id"] for batch in raw_fixture.BATCHES}


@dataclass(frozen=True)
class Price:
    model: str
    mode: str
    input_rate: Decimal | None
    output_rate: Decimal | None
    cached_rate: Decimal | None
    valid_from: date
    ends: date | None
    audio_rate: Decimal | None = None  # USD per minute of audio

    def prices(self, *, audio: bool) -> bool:
        """Whether the row has the rate an item of that kind needs."""
        if audio:
            return self.audio_rate is not None
        return self.input_rate is not None and self.output_rate is not None


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
                    input_rate=_rate(row["usd_per_million_input_tokens"]),
                    output_rate=_rate(row["usd_per_million_output_tokens"]),
                    cached_rate=_rate(row["usd_per_million_cached_input_tokens"]),
                    valid_from=date.fromisoformat(row["valid_from"]),
                    ends=date.fromisoformat(end) if end else None,
                    # Rows written before the column existed end at `source` (None here).
                    audio_rate=_rate(row.get("usd_per_audio_minute")),
                )
            )
    return prices


def _rate(text: str | None) -> Decimal | None:
    return Decimal(text) if text else None


def price_on(
    prices: Iterable[Price], model: str, mode: str, day: date, *, audio: bool = False
) -> Price | None:
    """The row in force, if it has the rate an item of that kind needs (else none: a row
    without it never prices such an item, at $0 or otherwise)."""
    matches = [
        price
        for price in prices
        if price.model == model
        and price.mode == mode
        and price.valid_from <= day
        and (price.ends is None or day < price.ends)
    ]
    assert len(matches) <= 1, f"overlapping prices for {model} {mode} on {day}"
    return matches[0] if matches and matches[0].prices(audio=audio) else None


def audio_usd(seconds: Decimal, price: Price) -> Decimal:
    """USD for `seconds` of audio at the row's per-minute rate, truncated to 18 decimals."""
    assert price.audio_rate is not None
    return (price.audio_rate * seconds / 60).quantize(ATTODOLLAR, rounding=ROUND_DOWN)


def item_usd(audio: bool, seconds: Decimal, tokens: tuple[int, int, int], price: Price) -> Decimal:
    """An item's cost at `price`: its audio seconds for an audio item, else its (prompt,
    cached, completion) tokens."""
    if audio:
        return audio_usd(seconds, price)
    return sum(usd(*tokens, price), Decimal(0))


def audio_seconds(text: str) -> Decimal | None:
    """A duration's JSON text as seconds rounded half up to the microsecond, or None when it
    is not a JSON number (a string, a boolean, null)."""
    value = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    if not isinstance(value, Decimal):
        return None
    return value.quantize(MICROSECOND, rounding=ROUND_HALF_UP)


def audio_issue(result: dict[str, Any]) -> str | None:
    """The issue that keeps an audio result line from being billed, or None: a succeeded line
    must report a duration, and a duration must be a JSON number from 0 to the limit."""
    if result["file_kind"] == "output" and result["status_code"] is None:
        return "invalid_status_code"
    succeeded = result["file_kind"] == "output" and result["status_code"] == 200
    text = result.get("audio_duration")
    if text is None:
        return "missing_audio_duration" if succeeded else None
    seconds = audio_seconds(text)
    if seconds is None or not 0 <= seconds <= MAX_AUDIO_SECONDS_PER_LINE:
        return "invalid_audio_duration"
    return None


def is_audio_batch(batch_id: str) -> bool:
    return any(
        batch["id"] == batch_id and batch["endpoint"] in AUDIO_ENDPOINTS
        for batch in raw_fixture.BATCHES
    )


def result_issue(result: dict[str, Any]) -> str | None:
    """usage_issue for a text batch's line, audio_issue for an audio batch's."""
    if is_audio_batch(result["batch_id"]):
        return audio_issue(result)
    return usage_issue(result)


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
    flagged: bool = False  # usage flagged (usage_issue): never money
    window_id: str | None = None  # the dedicated billing window that priced it
    audio_seconds: Decimal = Decimal(0)

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


def _pairs_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a key given twice")
    return dict(pairs)


def usage_issue(result: dict[str, Any]) -> str | None:
    """The issue that keeps a result line's usage from being billed (issue 8), or None.

    An output line needs an HTTP status; a succeeded line needs usage; prompt and completion
    tokens must be given; every token count given must be an int (not bool, not float) from
    0 to MAX_TOKENS_PER_LINE; cached tokens no more than prompt tokens; no key twice.
    """
    if result["file_kind"] == "output" and result["status_code"] is None:
        return "invalid_status_code"
    succeeded = result["file_kind"] == "output" and result["status_code"] == 200
    if result["usage"] is None:
        return "missing_usage" if succeeded else None
    try:
        usage = json.loads(result["usage"], object_pairs_hook=_pairs_once)
    except ValueError:
        return "invalid_usage"
    details = usage.get("prompt_tokens_details")
    fields = {
        "prompt_tokens": (usage.get("prompt_tokens"), True),
        "completion_tokens": (usage.get("completion_tokens"), True),
        "total_tokens": (usage.get("total_tokens"), False),
        "cached_tokens": (usage.get("cached_tokens"), False),
        "details.cached_tokens": (
            details.get("cached_tokens") if isinstance(details, dict) else None,
            False,
        ),
    }
    for value, required in fields.values():
        if value is None:
            if required:
                return "invalid_usage"
            continue
        if type(value) is not int or not 0 <= value <= MAX_TOKENS_PER_LINE:
            return "invalid_usage"
    cached = fields["details.cached_tokens"][0]
    cached = cached if cached is not None else fields["cached_tokens"][0]
    if cached is not None and cached > usage["prompt_tokens"]:
        return "invalid_usage"
    return None


def _result_order(result: dict[str, Any]) -> tuple[bool, int, str, int]:
    """Which line stands for a request answered more than once: a succeeded one, then the
    output file before the error file, then file id, then line number."""
    succeeded = result["file_kind"] == "output" and result["status_code"] == 200
    kind = 0 if result["file_kind"] == "output" else 1
    return (not succeeded, kind, result["file_id"], result["line_number"])


def winning_results() -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    """The winning result line of each (batch_id, custom_id), and the lines that lost."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for result in raw_fixture.RESULTS:
        grouped[(result["batch_id"], result["custom_id"])].append(result)
    winners, losers = {}, []
    for key, lines in grouped.items():
        ordered = sorted(lines, key=_result_order)
        winners[key] = ordered[0]
        losers.extend(ordered[1:])
    return winners, losers


def first_requests() -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    """The first input line of each (file_id, custom_id), and the later repeats."""
    firsts: dict[tuple[str, str], dict[str, Any]] = {}
    repeats = []
    for request in sorted(raw_fixture.REQUESTS, key=lambda r: (r["file_id"], r["line_number"])):
        key = (request["file_id"], request["custom_id"])
        if key in firsts:
            repeats.append(request)
        else:
            firsts[key] = request
    return firsts, repeats


def expected_data_quality_issues() -> set[tuple[str, str, str, int]]:
    """(batch_id, issue, file_id, line_number) of every line data_quality_issues lists."""
    issues: set[tuple[str, str, str, int]] = set()
    for line in raw_fixture.QUARANTINE:
        issues.add((line["batch_id"], "quarantined_line", line["file_id"], line["line_number"]))
    for result in raw_fixture.RESULTS:
        where = (result["file_id"], result["line_number"])
        issue = result_issue(result)
        if issue:
            issues.add((result["batch_id"], issue, *where))
        created = result["created"]
        if created is not None and not CREATED_RANGE[0] <= created <= CREATED_RANGE[1]:
            issues.add((result["batch_id"], "created_out_of_range", *where))
    for result in winning_results()[1]:
        issues.add(
            (result["batch_id"], "duplicate_result_line", result["file_id"], result["line_number"])
        )
    for request in first_requests()[1]:
        batch_id = BATCH_BY_INPUT[request["file_id"]]
        issues.add((batch_id, "duplicate_request_line", request["file_id"], request["line_number"]))
    for (batch_id, _), result in items_with_results_only().items():
        issues.add((batch_id, "orphan_result", result["file_id"], result["line_number"]))
    return issues


def items_with_results_only() -> dict[tuple[str, str], dict[str, Any]]:
    requested = {(BATCH_BY_INPUT[r["file_id"]], r["custom_id"]) for r in raw_fixture.REQUESTS}
    return {key: line for key, line in winning_results()[0].items() if key not in requested}


PICO = Decimal("0.000000000001")
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Window:
    """A billing window of prices/dedicated_endpoints.csv; times naive UTC."""

    window_id: str
    endpoint: str
    usage_month: date
    usd_per_hour: Decimal
    billed_from: datetime
    billed_to: datetime

    @property
    def seconds(self) -> int:
        return int((self.billed_to - self.billed_from).total_seconds())

    @property
    def cost_pico(self) -> int:
        """usd_per_hour * seconds / 3600 in picodollars, rounded down."""
        return int(self.usd_per_hour / PICO) * self.seconds // 3600


@dataclass
class WindowLines:
    """A window's expected rows of dedicated_endpoint_costs, in picodollars."""

    window: Window
    is_costed: bool
    busy_ms: int = 0
    allocated_pico: int = 0
    jobs: dict[str, int] = field(default_factory=dict)  # batch_id -> picodollars
    job_tokens: dict[str, int] = field(default_factory=dict)

    @property
    def idle_pico(self) -> int:
        return self.window.cost_pico - self.allocated_pico


def load_windows(path: Path) -> list[Window]:
    with path.open(newline="") as handle:
        return [
            Window(
                window_id=f"{row['provider']}|{row['endpoint']}|{row['billed_from']}",
                endpoint=row["endpoint"],
                usage_month=date.fromisoformat(row["billed_from"][:7] + "-01"),
                usd_per_hour=Decimal(row["usd_per_hour"]),
                billed_from=datetime.fromisoformat(row["billed_from"]),
                billed_to=datetime.fromisoformat(row["billed_to"]),
            )
            for row in csv.DictReader(handle)
        ]


def largest_remainder(whole: int, weights: dict[str, int]) -> dict[str, int]:
    """`whole` split by `weights`: each part rounded down, and what is left over given one
    each to the parts with the largest remainders (ties by key)."""
    total = sum(weights.values())
    if total == 0:
        return dict.fromkeys(weights, 0)
    parts = {key: whole * weight // total for key, weight in weights.items()}
    remainders = {key: whole * weight % total for key, weight in weights.items()}
    left = whole - sum(parts.values())
    for key in sorted(weights, key=lambda k: (-remainders[k], k))[:left]:
        parts[key] += 1
    return parts


def _epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _union_ms(intervals: list[tuple[datetime, datetime]]) -> int:
    busy, reach = 0, None
    start: datetime | None = None
    for begin, end in sorted(i for i in intervals if i[1] > i[0]):
        if reach is None or begin > reach:
            if start is not None and reach is not None:
                busy += _epoch_ms(reach) - _epoch_ms(start)
            start, reach = begin, end
        else:
            reach = max(reach, end)
    if start is not None and reach is not None:
        busy += _epoch_ms(reach) - _epoch_ms(start)
    return busy


def allocate_dedicated(
    items: dict[tuple[str, str], Item],
    windows: list[Window],
    listed: set[str],
    named: dict[str, set[str]],
    job_times: dict[str, tuple[datetime, datetime | None]],
) -> dict[str, WindowLines]:
    """Price the dedicated items of `items` in place and return each window's lines.

    `listed`: the endpoints the account's API lists as dedicated; `named`: batch_id -> the
    endpoints its model_id, requests or results name; `job_times`: batch_id -> (created_at,
    completed_at), naive UTC. The rule (prices/README.md): a window's jobs carry its cost
    times the share of the window in which one of them ran, split by tokens with the largest
    remainder rule to the picodollar, then among each job's items the same way.
    """
    dedicated = listed | {window.endpoint for window in windows}
    account = listed | {endpoint for names in named.values() for endpoint in names}
    lines = {w.window_id: WindowLines(w, w.endpoint in account) for w in windows}
    in_window: dict[str, list[Item]] = defaultdict(list)
    for item in items.values():
        if item.model not in dedicated:
            continue
        item.pricing_mode = item.cost_usd = item.realtime_cost_usd = item.savings_usd = None
        for window in windows:
            inside = window.billed_from <= item.used_at < window.billed_to
            if window.endpoint == item.model and inside and not item.flagged:
                in_window[window.window_id].append(item)
    for window_id, window_items in in_window.items():
        line = lines[window_id]
        window = line.window
        by_job: dict[str, list[Item]] = defaultdict(list)
        for item in window_items:
            by_job[item.batch_id].append(item)
        intervals = []
        for batch_id, job_items in by_job.items():
            created, completed = job_times[batch_id]
            first = min(item.used_at for item in job_items)
            last = max(item.used_at for item in job_items)
            start = max(min(created, first), window.billed_from)
            end = min(max(completed or last, last), window.billed_to)
            intervals.append((start, end))
            line.job_tokens[batch_id] = sum(item.total_tokens for item in job_items)
        line.busy_ms = min(_union_ms(intervals), window.seconds * 1000)
        if sum(line.job_tokens.values()) > 0:
            line.allocated_pico = window.cost_pico * line.busy_ms // (window.seconds * 1000)
        line.jobs = largest_remainder(line.allocated_pico, line.job_tokens)
        for batch_id, job_items in by_job.items():
            shares = largest_remainder(
                line.jobs[batch_id],
                {f"{item.batch_id}/{item.custom_id}": item.total_tokens for item in job_items},
            )
            for item in job_items:
                pico = shares[f"{item.batch_id}/{item.custom_id}"]
                item.pricing_mode = "dedicated"
                item.cost_usd = Decimal(pico) * PICO
                item.window_id = window_id
    return lines


def fixture_dedicated_lines(
    items: dict[tuple[str, str], Item], price_csv: Path
) -> dict[str, WindowLines]:
    """allocate_dedicated over the raw fixture's endpoints, batches, requests and results."""
    listed = {e["name"] for e in raw_fixture.ENDPOINTS if e["type"] == "dedicated"}
    named: dict[str, set[str]] = defaultdict(set)
    for batch in raw_fixture.BATCHES:
        named[batch["id"]].add(batch["model_id"])
    for request in raw_fixture.REQUESTS:
        named[BATCH_BY_INPUT[request["file_id"]]].add(request["model"])
    for result in raw_fixture.RESULTS:
        named[result["batch_id"]].add(result["model"])
    job_times = {
        batch["id"]: (
            _naive_utc(batch["created_at"]),
            _naive_utc(batch["completed_at"]) if batch["completed_at"] else None,
        )
        for batch in raw_fixture.BATCHES
    }
    windows = load_windows(price_csv.parent / "dedicated_endpoints.csv")
    return allocate_dedicated(items, windows, listed, named, job_times)


def idle_by_month(lines: dict[str, WindowLines]) -> dict[tuple[date, str], Decimal]:
    """The `dedicated_idle` rows of cost_by_month: (month, endpoint) -> idle USD."""
    idle: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for line in lines.values():
        if line.is_costed:
            idle[(line.window.usage_month, line.window.endpoint)] += line.idle_pico * PICO
    return dict(idle)


def add_idle_to_cohorts(
    expected: dict[tuple[date, str, str], Totals], idle: dict[tuple[date, str], Decimal]
) -> None:
    """The idle remainder counts under '(dedicated idle)' in every cohort key."""
    keys = {key for _, key, _ in expected}
    for (month, _), cost in idle.items():
        for key in keys:
            totals = expected.setdefault((month, key, "(dedicated idle)"), Totals())
            totals.cost_usd = (totals.cost_usd or Decimal(0)) + cost


def expected_items(price_csv: Path) -> dict[tuple[str, str], Item]:
    items = _expected_items(price_csv)
    fixture_dedicated_lines(items, price_csv)
    return items


def _expected_items(price_csv: Path) -> dict[tuple[str, str], Item]:
    prices = load_prices(price_csv)
    batches = {batch["id"]: batch for batch in raw_fixture.BATCHES}
    requests = {
        (BATCH_BY_INPUT[file_id], custom_id): request
        for (file_id, custom_id), request in first_requests()[0].items()
    }
    results = winning_results()[0]
    items: dict[tuple[str, str], Item] = {}
    for key in sorted(set(requests) | set(results)):
        batch = batches[key[0]]
        request, result = requests.get(key), results.get(key)
        audio = batch["endpoint"] in AUDIO_ENDPOINTS
        flagged = result is not None and result_issue(result) is not None
        # An audio line is billed on its duration: its usage, if any, is not read.
        usage = (
            json.loads(result["usage"])
            if result and result["usage"] and not flagged and not audio
            else {}
        )
        duration = result.get("audio_duration") if result and audio and not flagged else None
        seconds = audio_seconds(duration) or Decimal(0) if duration else Decimal(0)
        if result is None:
            status = "not_processed" if batch["status"] in TERMINAL else "pending"
        elif result["file_kind"] == "output" and result["status_code"] == 200:
            status = "succeeded"
        else:
            status = "failed"
        created = result["created"] if result else None
        if created and CREATED_RANGE[0] <= created <= CREATED_RANGE[1]:
            used_at = datetime.fromtimestamp(created, tz=UTC)
        else:
            used_at = batch["completed_at"] or batch["created_at"]
        model = (
            (request and request["model"])
            or (result and result["model"])
            or batch["model_id"]
            or "(unknown)"
        )
        prompt = usage.get("prompt_tokens", 0)
        completion = usage.get("completion_tokens", 0)
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") or usage.get("cached_tokens") or 0
        day = used_at.astimezone(UTC).date()
        batch_price = price_on(prices, model, "batch", day, audio=audio)
        serverless_price = price_on(prices, model, "serverless", day, audio=audio)
        billed = batch_price or serverless_price
        tokens = (prompt, cached, completion)
        # Flagged usage is never money: the item is unpriced, like one with no price row.
        cost = item_usd(audio, seconds, tokens, billed) if billed and not flagged else None
        realtime = (
            item_usd(audio, seconds, tokens, serverless_price)
            if serverless_price and not flagged
            else None
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
            # A total below prompt + completion is not trusted: the sum stands.
            total_tokens=max(usage.get("total_tokens") or 0, prompt + completion),
            pricing_mode=("batch" if batch_price else "serverless") if billed else None,
            cost_usd=cost,
            realtime_cost_usd=realtime,
            savings_usd=realtime - cost if realtime is not None and cost is not None else None,
            cohort=_cohort(request["metadata"]) if request else {},
            flagged=flagged,
            audio_seconds=seconds,
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
    audio_seconds: Decimal = Decimal(0)
    cost_usd: Decimal | None = None
    realtime_cost_usd: Decimal | None = None
    savings_usd: Decimal | None = None

    def add(self, item: Item) -> None:
        self.items += 1
        setattr(self, item.status, getattr(self, item.status) + 1)
        self.unpriced += item.cost_usd is None  # no price row, or flagged usage
        self.total_tokens += item.total_tokens
        self.audio_seconds += item.audio_seconds
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
            audio = job.endpoint in AUDIO_ENDPOINTS
            batch_price = price_on(prices, source.model, "batch", day, audio=audio)
            serverless_price = price_on(prices, source.model, "serverless", day, audio=audio)
            billed = batch_price or serverless_price
            # An audio result without a duration (the json format) is flagged, never priced.
            seconds = source.audio_duration if has_usage and audio else None
            flagged = audio and has_usage and seconds is None
            seconds = (seconds or Decimal(0)).quantize(MICROSECOND, rounding=ROUND_HALF_UP)
            tokens = (prompt, cached, completion)
            cost = item_usd(audio, seconds, tokens, billed) if billed and not flagged else None
            realtime = (
                item_usd(audio, seconds, tokens, serverless_price)
                if serverless_price and not flagged
                else None
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
                audio_seconds=seconds,
            )
    demo_dedicated_lines(items, scenario, price_csv)
    return items


def demo_dedicated_lines(
    items: dict[tuple[str, str], Item], scenario: Any, price_csv: Path
) -> dict[str, WindowLines]:
    """allocate_dedicated over the demo scenario's endpoints and jobs at `scenario.now`."""
    listed = {
        e.name for e in scenario.endpoints if e.type == "dedicated" and e.created_at <= scenario.now
    }
    named: dict[str, set[str]] = defaultdict(set)
    job_times = {}
    for job in scenario.jobs:
        named[job.batch_id] |= {item.model for item in job.items}
        finished = job.is_terminal_at(scenario.now)
        job_times[job.batch_id] = (
            _naive_utc(job.created_at),
            _naive_utc(job.finished_at) if finished else None,
        )
    windows = load_windows(price_csv.parent / "dedicated_endpoints.csv")
    return allocate_dedicated(items, windows, listed, named, job_times)


def assert_totals(row: dict[str, object], totals: Totals, where: object) -> None:
    actual = {
        "items": row["items_total"],
        "succeeded": row["items_succeeded"],
        "failed": row["items_failed"],
        "not_processed": row["items_not_processed"],
        "pending": row["items_pending"],
        "unpriced": row["unpriced_items"],
        "total_tokens": row["total_tokens"],
        "audio_seconds": row["audio_seconds"],
        "cost_usd": row["cost_usd"],
        "realtime_cost_usd": row["realtime_cost_usd"],
        "savings_usd": row["savings_usd"],
    }
    assert actual == vars(totals), where


@dataclass(frozen=True)
class Reconciliation:
    """One expected row of marts.invoice_reconciliation."""

    invoice_lines: int
    computed_billed_usd: Decimal
    unpriced_items: int
    invoiced_usd: Decimal
    difference_usd: Decimal
    difference_percent: Decimal | None
    tolerance_usd: Decimal
    within_tolerance: bool


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """100 * part / whole truncated to 6 places (toward zero), null for a zero whole."""
    if whole < Decimal("0.000000000001"):
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)


def expected_invoice_reconciliation(
    items: Iterable[Item],
    invoice_lines: Iterable[dict[str, Any]],
    *,
    tolerance_usd: Decimal = Decimal("0.01"),
    tolerance_percent: Decimal = Decimal("1"),
    idle: dict[tuple[date, str], Decimal] | None = None,
) -> dict[tuple[date, str, str | None], Reconciliation]:
    """The tie-out from the items' own costs, the dedicated endpoints' idle remainders
    ((month, endpoint) -> USD: billed, with the endpoint as the model) and the invoice lines,
    keyed by (month, level, model): a `month` row per invoiced month, and in a month whose
    invoice names models a `model` row per model either side knows."""
    billed: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    unpriced: dict[tuple[date, str], int] = defaultdict(int)
    for item in items:
        key = (item.usage_month, item.model)
        billed[key] += item.cost_usd or Decimal(0)
        unpriced[key] += item.cost_usd is None
    for key, usd in (idle or {}).items():
        billed[key] += usd
    invoiced: dict[tuple[date, str | None], list[Decimal]] = defaultdict(list)
    for line in invoice_lines:
        month = date.fromisoformat(line["invoice_month"] + "-01")
        amount = Decimal(line["amount_usd"])
        invoiced[(month, None)].append(amount)
        if line["model"]:
            invoiced[(month, line["model"])].append(amount)

    def row(month: date, model: str | None) -> Reconciliation:
        def mine(key: tuple[date, str]) -> bool:
            return key[0] == month and (model is None or key[1] == model)

        computed = sum((usd for key, usd in billed.items() if mine(key)), Decimal(0))
        amounts = invoiced.get((month, model), [])
        total = sum(amounts, Decimal(0))
        difference = total - computed
        allowed = max(tolerance_usd, abs(computed) * tolerance_percent / 100)
        return Reconciliation(
            invoice_lines=len(amounts),
            computed_billed_usd=computed,
            unpriced_items=sum(n for key, n in unpriced.items() if mine(key)),
            invoiced_usd=total,
            difference_usd=difference,
            difference_percent=(
                _percent(difference, computed) if abs(difference) < computed * 10**9 else None
            ),
            tolerance_usd=allowed,
            within_tolerance=abs(difference) <= allowed,
        )

    expected: dict[tuple[date, str, str | None], Reconciliation] = {}
    for month in sorted({month for month, _ in invoiced}):
        expected[(month, "month", None)] = row(month, None)
        if any(key[0] == month and key[1] is not None for key in invoiced):
            models = {key[1] for key in invoiced if key[0] == month and key[1] is not None}
            models |= {model for (usage_month, model) in billed if usage_month == month}
            for model in sorted(models):
                expected[(month, "model", model)] = row(month, model)
    return expected
