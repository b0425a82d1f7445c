"""Scenario data model: the ground truth the emulator serves and tests compute costs from.

Everything an output or error file contains (tokens, `created`, outcomes) is decided here, once,
when a job is planned. The HTTP layer only renders these records, so a test can compare served
files with `ScenarioItem`s field by field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

Outcome = Literal["succeeded", "failed", "not_processed"]

CHAT_ENDPOINT = "/v1/chat/completions"
TRANSCRIPTIONS_ENDPOINT = "/v1/audio/transcriptions"
TRANSLATIONS_ENDPOINT = "/v1/audio/translations"
AUDIO_ENDPOINTS = frozenset({TRANSCRIPTIONS_ENDPOINT, TRANSLATIONS_ENDPOINT})
# Together's response formats for audio; only verbose_json reports the audio's duration.
AUDIO_FORMATS = frozenset({"json", "verbose_json"})
DEFAULT_MAX_TOKENS = 512
# Observed deadlines are created_at + 24h minus a few microseconds (contract §3.2).
JOB_WINDOW = timedelta(hours=24)
DEADLINE_SLACK = timedelta(microseconds=5)
# How long a cancelled job shows CANCELING before it settles on CANCELLED.
CANCEL_SETTLE = timedelta(seconds=5)
CUSTOM_ID_MAX = 64


@dataclass(frozen=True)
class ScenarioModel:
    name: str
    batch_discounted: bool
    reports_cached_tokens: bool = False
    has_public_price: bool = True


@dataclass(frozen=True)
class ScenarioEndpoint:
    """An endpoint of GET /v1/endpoints. A dedicated one's `name` is what a batch job on it
    gives as its model."""

    id: str
    name: str
    model: str
    type: Literal["dedicated", "serverless"]
    owner: str
    state: str
    created_at: datetime
    usage_type: Literal["on-demand", "reserved"] = "on-demand"
    is_mine: bool = True


@dataclass(frozen=True)
class ScenarioItem:
    """One input line and what became of it.

    For a job that is not terminal yet, this is the outcome it reaches if left alone.
    `created` is the unix second written into the output line (succeeded items only);
    `processed_at` is the exact instant the item finished (succeeded or failed).
    """

    custom_id: str
    model: str
    max_tokens: int | None
    metadata: dict[str, str] | None
    outcome: Outcome
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None
    created: int | None
    error_code: str | None
    error_message: str | None
    line_number: int
    prompt: str = ""
    processed_at: datetime | None = None
    # An audio request (method FILE): the audio's URL and the response format it asked for.
    audio: AudioRequest | None = None
    # Seconds of audio a succeeded audio item's result reports (verbose_json only), as the
    # JSON number is written: None for a text item and for the json format.
    audio_duration: Decimal | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens

    @property
    def finish_reason(self) -> str | None:
        if self.completion_tokens is None:
            return None
        limit = DEFAULT_MAX_TOKENS if self.max_tokens is None else self.max_tokens
        return "length" if self.completion_tokens >= limit else "stop"

    def unprocessed(self) -> ScenarioItem:
        return dataclasses.replace(
            self,
            outcome="not_processed",
            prompt_tokens=None,
            completion_tokens=None,
            cached_tokens=None,
            created=None,
            error_code=None,
            error_message=None,
            processed_at=None,
            audio_duration=None,
        )


@dataclass(frozen=True)
class AudioRequest:
    """What an audio batch line asks for: `body.file` (a URL) and `body.response_format`."""

    file: str
    response_format: str = "json"


@dataclass(frozen=True)
class ScenarioJob:
    """A batch job's whole planned life.

    `final_status`, `output_file_id`, `error_file_id` and `items` describe where the job ends up;
    `completed_at` is that end only if it had happened by the scenario's `now` (else None), while
    `finished_at` is always the terminal instant. Use `status_at()` for any other moment.
    """

    batch_id: str
    input_file_id: str
    output_file_id: str | None
    error_file_id: str | None
    final_status: str
    created_at: datetime
    completed_at: datetime | None
    items: tuple[ScenarioItem, ...]
    finished_at: datetime
    validating_seconds: float
    processing_seconds: float
    model_id: str | None
    error: str | None = None
    cancel_requested_at: datetime | None = None
    endpoint: str = CHAT_ENDPOINT
    input_filename: str = "batch_input.jsonl"

    @property
    def job_deadline(self) -> datetime:
        return self.created_at + JOB_WINDOW - DEADLINE_SLACK

    @property
    def processing_started_at(self) -> datetime:
        return self.created_at + timedelta(seconds=self.validating_seconds)

    def status_at(self, now: datetime) -> str:
        if now >= self.finished_at:
            return self.final_status
        if self.cancel_requested_at is not None and now >= self.cancel_requested_at:
            return "CANCELING"
        if now < self.processing_started_at or self.final_status == "FAILED":
            return "VALIDATING"
        return "IN_PROGRESS"

    def is_terminal_at(self, now: datetime) -> bool:
        return now >= self.finished_at

    def progress_at(self, now: datetime) -> float:
        """Percent of items finished by `now`; frozen once a cancel or expiry cut the job."""
        if not self.items:
            return 100.0 if self.is_terminal_at(now) and self.final_status == "COMPLETED" else 0.0
        done = sum(1 for i in self.items if i.processed_at is not None and i.processed_at <= now)
        return round(100.0 * done / len(self.items), 2)

    def outcome_counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter(i.outcome for i in self.items)
        return {k: counts[k] for k in ("succeeded", "failed", "not_processed")}

    def cut_at(self, cutoff: datetime, final_status: str, finished_at: datetime) -> ScenarioJob:
        """Items finished after `cutoff` become not_processed (cancel or expiry)."""
        items = tuple(
            i if i.processed_at is not None and i.processed_at <= cutoff else i.unprocessed()
            for i in self.items
        )
        return dataclasses.replace(
            self,
            items=items,
            final_status=final_status,
            finished_at=finished_at,
            error=None,
            output_file_id=self.output_file_id if _any(items, "succeeded") else None,
            error_file_id=self.error_file_id if _any(items, "failed") else None,
        )

    def cancelled(self, at: datetime) -> ScenarioJob:
        job = self.cut_at(at, "CANCELLED", at + CANCEL_SETTLE)
        return dataclasses.replace(job, cancel_requested_at=at, completed_at=None)


@dataclass
class Scenario:
    """What the emulator starts from: jobs as of `now` (the virtual clock's starting instant)."""

    now: datetime
    jobs: list[ScenarioJob] = field(default_factory=list)
    user_id: str = "5f3c9a1e7b2d4c6a8e0f1b3d"
    models: tuple[ScenarioModel, ...] = ()
    endpoints: tuple[ScenarioEndpoint, ...] = ()

    def job(self, batch_id: str) -> ScenarioJob:
        for job in self.jobs:
            if job.batch_id == batch_id:
                return job
        raise KeyError(batch_id)

    def items_by_batch(self) -> dict[str, tuple[ScenarioItem, ...]]:
        return {job.batch_id: job.items for job in self.jobs}

    def model(self, name: str) -> ScenarioModel | None:
        return next((m for m in self.models if m.name == name), None)

    def cached_token_models(self) -> frozenset[str]:
        return frozenset(m.name for m in self.models if m.reports_cached_tokens)


@dataclass(frozen=True)
class InputLine:
    """One parsed input line: what the planner needs to decide an item's fate."""

    line_number: int
    custom_id: str
    model: str
    max_tokens: int | None
    metadata: dict[str, str] | None
    prompt_tokens: int
    prompt: str = ""
    # (code, message) when the scenario wants this request to fail.
    failure: tuple[str, str] | None = None
    audio: AudioRequest | None = None


def _any(items: Iterable[ScenarioItem], outcome: Outcome) -> bool:
    return any(i.outcome == outcome for i in items)


def stable_hash(*parts: str) -> int:
    """64-bit hash that is stable across processes (unlike hash())."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def prompt_tokens_for(messages: Sequence[Any]) -> int:
    """~4 characters per token plus a per-message overhead for the chat template."""
    chars = 0
    for message in messages:
        content = message.get("content", "") if isinstance(message, Mapping) else message
        chars += len(content) if isinstance(content, str) else len(str(content))
    return chars // 4 + 8 * len(messages)


def completion_tokens_for(custom_id: str, max_tokens: int | None) -> int:
    """Deterministic in [1, max_tokens]; the range is stretched by 10% and clamped so that
    roughly one request in eleven hits the limit (finish_reason "length")."""
    limit = DEFAULT_MAX_TOKENS if max_tokens is None else max(max_tokens, 1)
    return min(limit, stable_hash("completion", custom_id) % (limit + limit // 10) + 1)


def cached_tokens_for(custom_id: str, prompt_tokens: int) -> int:
    """About half the lines reuse a cached prefix: 0 < N < prompt_tokens; the rest report 0."""
    h = stable_hash("cached", custom_id)
    if h % 2 or prompt_tokens < 2:
        return 0
    return 1 + (h >> 1) % (prompt_tokens - 1)


def audio_duration_for(custom_id: str) -> Decimal:
    """Deterministic seconds of audio, 1 to 30 s to the millisecond (e.g. 17.52): short
    clips, so the demo's audio job stays inside its cents-sized budgets."""
    return (Decimal(stable_hash("audio", custom_id) % 29_000) + 1000) / 1000


def processing_ranks(batch_id: str, custom_ids: Sequence[str]) -> list[int]:
    """rank[i] = position of input line i in the (deterministically shuffled) processing order."""
    order = sorted(range(len(custom_ids)), key=lambda i: (stable_hash(batch_id, custom_ids[i]), i))
    ranks = [0] * len(custom_ids)
    for rank, index in enumerate(order):
        ranks[index] = rank
    return ranks


def plan_items(
    batch_id: str,
    lines: Sequence[InputLine],
    start: datetime,
    processing_seconds: float,
    cached_models: frozenset[str],
) -> tuple[ScenarioItem, ...]:
    """Every line processed, finishing evenly spread over the processing window."""
    ranks = processing_ranks(batch_id, [line.custom_id for line in lines])
    n = len(lines)
    items = []
    for line, rank in zip(lines, ranks, strict=True):
        processed_at = start + timedelta(seconds=processing_seconds * (rank + 1) / n)
        common: dict[str, Any] = {
            "custom_id": line.custom_id,
            "model": line.model,
            "max_tokens": line.max_tokens,
            "metadata": line.metadata,
            "line_number": line.line_number,
            "prompt": line.prompt,
            "processed_at": processed_at,
            "audio": line.audio,
        }
        if line.failure is not None:
            code, message = line.failure
            items.append(
                ScenarioItem(
                    outcome="failed",
                    prompt_tokens=None,
                    completion_tokens=None,
                    cached_tokens=None,
                    created=None,
                    error_code=code,
                    error_message=message,
                    **common,
                )
            )
            continue
        if line.audio is not None:
            # Billed per minute of audio: no tokens; a duration only in verbose_json.
            verbose = line.audio.response_format == "verbose_json"
            items.append(
                ScenarioItem(
                    outcome="succeeded",
                    prompt_tokens=0,
                    completion_tokens=0,
                    cached_tokens=None,
                    # Together's audio responses carry no `created` stamp.
                    created=None,
                    error_code=None,
                    error_message=None,
                    audio_duration=audio_duration_for(line.custom_id) if verbose else None,
                    **common,
                )
            )
            continue
        cached = (
            cached_tokens_for(line.custom_id, line.prompt_tokens)
            if line.model in cached_models
            else None
        )
        items.append(
            ScenarioItem(
                outcome="succeeded",
                prompt_tokens=line.prompt_tokens,
                completion_tokens=completion_tokens_for(line.custom_id, line.max_tokens),
                cached_tokens=cached,
                created=int(processed_at.timestamp()),
                error_code=None,
                error_message=None,
                **common,
            )
        )
    return tuple(items)


def plan_job(
    *,
    batch_id: str,
    input_file_id: str,
    output_file_id: str,
    error_file_id: str,
    created_at: datetime,
    lines: Sequence[InputLine],
    validating_seconds: float,
    processing_seconds: float,
    cached_models: frozenset[str] = frozenset(),
    model_id: str | None = None,
    validation_error: str | None = None,
    cancel_at: datetime | None = None,
    snapshot_now: datetime | None = None,
    endpoint: str = CHAT_ENDPOINT,
    input_filename: str = "batch_input.jsonl",
) -> ScenarioJob:
    """Plan a job's life: validation, processing spread, then completion, expiry or cancel.

    `output_file_id`/`error_file_id` are reserved up front and dropped if the job ends without
    succeeded/failed items. `snapshot_now` decides `completed_at` (None if not finished by then).
    """
    created_at = created_at.astimezone(UTC)
    start = created_at + timedelta(seconds=validating_seconds)
    if model_id is None and lines:
        model_id = lines[0].model
    base = ScenarioJob(
        batch_id=batch_id,
        input_file_id=input_file_id,
        output_file_id=output_file_id,
        error_file_id=error_file_id,
        final_status="COMPLETED",
        created_at=created_at,
        completed_at=None,
        items=(),
        finished_at=start + timedelta(seconds=processing_seconds),
        validating_seconds=validating_seconds,
        processing_seconds=processing_seconds,
        model_id=model_id,
        endpoint=endpoint,
        input_filename=input_filename,
    )
    if validation_error is not None:
        job = dataclasses.replace(
            base,
            final_status="FAILED",
            finished_at=start,
            error=validation_error,
            output_file_id=None,
            error_file_id=None,
            items=tuple(
                ScenarioItem(
                    custom_id=line.custom_id,
                    model=line.model,
                    max_tokens=line.max_tokens,
                    metadata=line.metadata,
                    outcome="not_processed",
                    prompt_tokens=None,
                    completion_tokens=None,
                    cached_tokens=None,
                    created=None,
                    error_code=None,
                    error_message=None,
                    line_number=line.line_number,
                    prompt=line.prompt,
                    audio=line.audio,
                )
                for line in lines
            ),
        )
    else:
        items = plan_items(batch_id, lines, start, processing_seconds, cached_models)
        job = dataclasses.replace(
            base,
            items=items,
            output_file_id=output_file_id if _any(items, "succeeded") else None,
            error_file_id=error_file_id if _any(items, "failed") else None,
        )
        if job.finished_at > job.job_deadline:
            job = job.cut_at(job.job_deadline, "EXPIRED", created_at + JOB_WINDOW)
    if cancel_at is not None and cancel_at < job.finished_at:
        job = job.cancelled(cancel_at)
    if snapshot_now is not None and job.finished_at <= snapshot_now:
        job = dataclasses.replace(job, completed_at=job.finished_at)
    return job


INVALID_MODEL = "invalid/model"


def validate_lines(lines: Sequence[InputLine]) -> str | None:
    """Job-level checks that fail the whole batch during VALIDATING (first problem wins)."""
    if not lines:
        return "Invalid input file: the file contains no requests"
    seen: set[str] = set()
    for line in lines:
        if len(line.custom_id) > CUSTOM_ID_MAX:
            return (
                f"Invalid input file: line {line.line_number}: "
                f"custom_id exceeds {CUSTOM_ID_MAX} characters"
            )
        if line.custom_id in seen:
            return (
                f"Invalid input file: line {line.line_number}: "
                f"duplicate custom_id {line.custom_id!r}"
            )
        seen.add(line.custom_id)
    return None


def parse_input_file(data: bytes) -> tuple[list[InputLine], str | None]:
    """Parse an uploaded JSONL input file into InputLines plus the validation error, if any.

    Lines with body.model == "invalid/model" are accepted but fail individually (invalid_model),
    which is how tests create per-request failures through the public upload flow.
    """
    lines: list[InputLine] = []
    error: str | None = None
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        line, problem = _parse_line(number, raw)
        if line is not None:
            lines.append(line)
        if problem is not None and error is None:
            error = f"Invalid input file: line {number}: {problem}"
    return lines, error or validate_lines(lines)


def _parse_line(number: int, raw: bytes) -> tuple[InputLine | None, str | None]:
    try:
        record = json.loads(raw)
    except ValueError:
        return None, "not valid JSON"
    if not isinstance(record, dict):
        return None, "expected a JSON object"
    custom_id = record.get("custom_id")
    body = record.get("body")
    if not isinstance(custom_id, str) or not custom_id:
        return None, "custom_id is required"
    if not isinstance(body, dict):
        return None, "body is required"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return None, "body.model is required"
    messages = body.get("messages")
    audio: AudioRequest | None = None
    if isinstance(body.get("file"), str) and messages is None:
        # An audio line (method FILE): the file is a URL; json is Together's default format.
        response_format = body.get("response_format", "json")
        if response_format not in AUDIO_FORMATS:
            return None, f"body.response_format must be one of {', '.join(sorted(AUDIO_FORMATS))}"
        audio = AudioRequest(file=body["file"], response_format=response_format)
        prompt, prompt_tokens = "", 0
    elif isinstance(messages, list):
        prompt_tokens = prompt_tokens_for(messages)
        first = messages[0] if messages and isinstance(messages[0], dict) else {}
        content = first.get("content")
        prompt = content if isinstance(content, str) else ""
    elif isinstance(body.get("prompt"), str):
        prompt = body["prompt"]
        prompt_tokens = prompt_tokens_for([{"content": prompt}])
    else:
        return None, "body.messages is required"
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)):
        return None, "body.max_tokens must be an integer"
    metadata = record.get("metadata")
    failure = (
        ("invalid_model", f"Invalid model specified: {model}") if model == INVALID_MODEL else None
    )
    return (
        InputLine(
            line_number=number,
            custom_id=custom_id,
            model=model,
            max_tokens=max_tokens,
            metadata={str(k): str(v) for k, v in metadata.items()}
            if isinstance(metadata, dict)
            else None,
            prompt_tokens=prompt_tokens,
            prompt=prompt or "",
            failure=failure,
            audio=audio,
        ),
        None,
    )
