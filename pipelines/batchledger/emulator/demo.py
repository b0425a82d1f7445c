"""The bundled demo scenario (what `make ingest` shows without an API key) and a bulk scenario.

Everything derives from a seeded RNG, so every call returns the same ids, prompts and tokens.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from batchledger.emulator.scenario import (
    TRANSCRIPTIONS_ENDPOINT,
    AudioRequest,
    InputLine,
    Scenario,
    ScenarioEndpoint,
    ScenarioJob,
    ScenarioModel,
    plan_job,
    processing_ranks,
    prompt_tokens_for,
    validate_lines,
)

# After 2026-11-28, the day a launch model's batch discount was first seen gone (the job on
# LLAMA_8B below runs across it).
DEMO_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DEMO_SEED = 20261120

LLAMA_70B = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
QWEN_7B = "Qwen/Qwen2.5-7B-Instruct-Turbo"
DEEPSEEK_FLASH = "deepseek-ai/DeepSeek-V4.1-Flash"
LABELER_FT = "acme-ai/Llama-3.1-8B-labeler-ft"
WHISPER = "openai/whisper-large-v3"
# One of the 15 launch models: its batch discount ends on 2026-11-28, the day Together's batch
# page was first seen without it (prices/README.md, "Batch eligibility over time").
LLAMA_8B = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
# The account's dedicated endpoints (their billing windows are in prices/dedicated_endpoints.csv):
# Llama 3.3 70B, which one job runs on, and a Qwen endpoint left running with no job.
DEDICATED_LLAMA = "acme-ai/meta-llama/Llama-3.3-70B-Instruct-Turbo-9f2c41d7"
DEDICATED_QWEN = "acme-ai/Qwen/Qwen2.5-7B-Instruct-Turbo-3b7e0a55"

DEMO_MODELS = (
    ScenarioModel(LLAMA_70B, batch_discounted=True),
    ScenarioModel(QWEN_7B, batch_discounted=True),
    ScenarioModel(DEEPSEEK_FLASH, batch_discounted=False, reports_cached_tokens=True),
    # A customer fine-tune: no public price, so cost reports must flag it rather than guess.
    ScenarioModel(LABELER_FT, batch_discounted=False, has_public_price=False),
    # Speech to text, billed per minute of audio (batch-discounted).
    ScenarioModel(WHISPER, batch_discounted=True),
    # A dedicated endpoint: priced by its billing window, never per token.
    ScenarioModel(DEDICATED_LLAMA, batch_discounted=False, has_public_price=False),
    # Batch-discounted until 2026-11-28, at standard rates since (not discounted at DEMO_NOW).
    ScenarioModel(LLAMA_8B, batch_discounted=False),
)

_SERVERLESS_SINCE = datetime(2024, 2, 28, 21, 34, 35, 444000, tzinfo=UTC)
DEMO_ENDPOINTS = (
    ScenarioEndpoint(
        "endpoint-9f2c41d7-5b3e-4a8c-9d21-6e0f7a1b2c3d", DEDICATED_LLAMA, LLAMA_70B,
        "dedicated", "acme-ai", "STARTED", datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
    ),
    ScenarioEndpoint(
        "endpoint-3b7e0a55-1c2d-4e3f-8a9b-0c1d2e3f4a5b", DEDICATED_QWEN, QWEN_7B,
        "dedicated", "acme-ai", "STOPPED", datetime(2026, 10, 5, 8, 55, tzinfo=UTC),
    ),
    *(
        ScenarioEndpoint(
            f"endpoint-{index:08x}-0000-4000-8000-000000000000", model, model, "serverless",
            "together", "STARTED", _SERVERLESS_SINCE, is_mine=False,
        )
        for index, model in enumerate((LLAMA_70B, QWEN_7B, DEEPSEEK_FLASH), start=1)
    ),
)  # fmt: skip

ERROR_MESSAGES = {
    "timeout": "Request timed out after 600 seconds",
    "invalid_request": "Invalid request format",
    "context_length_exceeded": "Input length exceeds the model's context window",
    "invalid_model": "Invalid model specified",
    "invalid_audio": "Could not decode the audio file",
}

_PROMPTS = {
    "query-rewrite": "Rewrite this search query so a travel site can match it: {text}",
    "ranking-eval": "Rate from 0 to 3 how relevant this document is to the query. Document: {text}",
    "ticket-triage": "Classify this ticket as billing, shipping, account or other. Ticket: {text}",
    "reply-drafts": "Draft a short, friendly reply to this customer message: {text}",
    "lead-scoring": "Score this lead from 0 to 100 and give one reason. Lead notes: {text}",
    # Audio jobs: the transcript the emulator answers with.
    "call-transcripts": "Hello, I am calling about my {text}",
}
_WORDS = (
    "refund", "order", "late", "invoice", "account", "password", "shipping", "lisbon", "cheap",
    "flight", "hotel", "weekend", "enterprise", "trial", "pricing", "upgrade", "cancel",
    "subscription", "duplicate", "charge", "card", "address", "parcel", "tracking", "damaged",
    "support", "agent", "manager", "demo", "contract", "renewal", "seats", "onboarding", "api",
)  # fmt: skip


@dataclass(frozen=True)
class _JobPlan:
    created_at: datetime
    model: str
    n_items: int
    team: str
    project: str
    prefix: str
    validating_seconds: float
    processing_seconds: float
    max_tokens: int | None = 512
    # (processing rank, error code): ranks pick requests that really finish before a cut-off.
    failures: tuple[tuple[int, str], ...] = ()
    cancel_after_seconds: float | None = None  # counted from the start of processing
    extra_model: tuple[str, int] | None = None  # the last N lines use another model
    no_metadata_lines: tuple[int, ...] = ()
    project_only_lines: tuple[int, ...] = ()
    other_cohort: tuple[int, str, str] | None = None  # from line N on: (N, team, project)
    long_custom_id_line: int | None = None  # fails validation: custom_id > 64 chars
    # An audio job: its endpoint, and the lines that ask for the json response format (no
    # duration, so unpriced); the others ask for verbose_json.
    endpoint: str | None = None
    json_format_lines: tuple[int, ...] = ()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_DEMO_JOBS = (
    _JobPlan(_at("2026-10-02T08:15:07"), LLAMA_70B, 40, "search", "query-rewrite", "qr1",
             45, 1800, max_tokens=256),
    _JobPlan(_at("2026-10-09T14:02:51"), QWEN_7B, 52, "support", "ticket-triage", "tt1",
             30, 2400, max_tokens=64, failures=((10, "timeout"), (37, "invalid_request")),
             no_metadata_lines=(5, 6), project_only_lines=(7, 8)),
    _JobPlan(_at("2026-10-15T10:30:12"), DEEPSEEK_FLASH, 25, "growth", "lead-scoring", "ls1",
             90, 1200, long_custom_id_line=17),
    _JobPlan(_at("2026-10-21T09:00:44"), DEEPSEEK_FLASH, 36, "growth", "lead-scoring", "ls2",
             60, 3000, failures=((20, "context_length_exceeded"),)),
    # Planned for 36 h, so the 24 h window expires it with about two thirds processed.
    _JobPlan(_at("2026-10-27T07:45:30"), LLAMA_70B, 45, "search", "ranking-eval", "re1",
             120, 36 * 3600, max_tokens=1024, failures=((5, "timeout"),)),
    # Starts 2026-10-31 23:22 and runs 80 min: about half its completions land in November.
    _JobPlan(_at("2026-10-31T23:20:14"), LABELER_FT, 60, "support", "reply-drafts", "rd1",
             120, 4800, max_tokens=32),
    _JobPlan(_at("2026-11-05T16:40:09"), QWEN_7B, 30, "support", "ticket-triage", "tt2",
             30, 3600, max_tokens=None, failures=((3, "invalid_request"),),
             cancel_after_seconds=1500),
    _JobPlan(_at("2026-11-11T11:11:11"), DEEPSEEK_FLASH, 48, "growth", "lead-scoring", "ls3",
             60, 2700, failures=((4, "invalid_request"), (19, "timeout"),
                                 (33, "context_length_exceeded")),
             no_metadata_lines=(10,), project_only_lines=(2, 3, 4),
             other_cohort=(25, "search", "ranking-eval")),
    _JobPlan(_at("2026-11-17T09:30:27"), LLAMA_70B, 48, "search", "query-rewrite", "qr2",
             45, 2100, max_tokens=256, extra_model=(LABELER_FT, 4)),
    # Still IN_PROGRESS at DEMO_NOW (12:00); completes at 13:31:05 with two failed requests.
    _JobPlan(_at("2026-11-30T11:30:05"), QWEN_7B, 40, "support", "ticket-triage", "tt3",
             60, 7200, max_tokens=128, failures=((12, "timeout"), (30, "invalid_request"))),
    # Call recordings transcribed with Whisper, billed per minute of audio: two lines ask for
    # the json format, whose results report no duration (unpriced, flagged); one file fails.
    _JobPlan(_at("2026-11-13T15:20:40"), WHISPER, 20, "voice", "call-transcripts", "ct1",
             60, 1800, max_tokens=None, failures=((7, "invalid_audio"),),
             endpoint=TRANSCRIPTIONS_ENDPOINT, json_format_lines=(3, 4)),
    # On the account's dedicated Llama endpoint (billed 08:00-20:00 that day): its cost is its
    # share of the endpoint's window, the rest of the window is idle. Last, so that adding it
    # changed none of the jobs above.
    _JobPlan(_at("2026-11-12T10:00:00"), DEDICATED_LLAMA, 24, "search", "ranking-eval", "de1",
             45, 1800, max_tokens=256),
    # Runs across midnight into 2026-11-28, when Llama 3.1 8B's launch discount ended: the
    # requests done before it bill at the batch rate, those after at standard rates. Last,
    # like the dedicated job, so that adding it changed none of the jobs above.
    _JobPlan(_at("2026-11-27T23:40:00"), LLAMA_8B, 24, "search", "ranking-eval", "re2",
             60, 2400, max_tokens=256),
)  # fmt: skip


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# Prompts are slices of one fixed word stream: two RNG draws per prompt keeps 50k-line
# scenarios fast while every prompt still differs.
_STREAM = random.Random(1).choices(_WORDS, k=4096)


def _prompt(rng: random.Random, project: str) -> str:
    length = rng.randint(6, 160)
    start = rng.randrange(len(_STREAM) - length)
    return _PROMPTS[project].format(text=" ".join(_STREAM[start : start + length]))


def _lines(rng: random.Random, plan: _JobPlan) -> list[InputLine]:
    lines = []
    extra_model, extra_count = plan.extra_model or (plan.model, 0)
    for number in range(1, plan.n_items + 1):
        team, project = plan.team, plan.project
        if plan.other_cohort is not None and number >= plan.other_cohort[0]:
            _, team, project = plan.other_cohort
        metadata: dict[str, str] | None = {"team": team, "project": project}
        if number in plan.no_metadata_lines:
            metadata = None
        elif number in plan.project_only_lines:
            metadata = {"project": project}
        custom_id = f"{plan.prefix}-{number:05d}"
        if number == plan.long_custom_id_line:
            custom_id = f"{project}/crm-export-{plan.created_at:%Y-%m-%d}/account-7731/row-{number}"
            custom_id += "-retry-of-previous-export"
        prompt = _prompt(rng, project)
        audio = None
        if plan.endpoint is not None:
            audio = AudioRequest(
                file=f"https://recordings.example.com/{plan.prefix}/{number:05d}.wav",
                response_format="json" if number in plan.json_format_lines else "verbose_json",
            )
        lines.append(
            InputLine(
                line_number=number,
                custom_id=custom_id,
                model=extra_model if number > plan.n_items - extra_count else plan.model,
                max_tokens=plan.max_tokens,
                metadata=metadata,
                prompt_tokens=0
                if audio
                else prompt_tokens_for([{"role": "user", "content": prompt}]),
                prompt=prompt,
                audio=audio,
            )
        )
    return lines


def _with_failures(batch_id: str, lines: list[InputLine], plan: _JobPlan) -> list[InputLine]:
    ranks = processing_ranks(batch_id, [line.custom_id for line in lines])
    by_rank = {rank: index for index, rank in enumerate(ranks)}
    for rank, code in plan.failures:
        index = by_rank[rank]
        old = lines[index]
        lines[index] = InputLine(
            line_number=old.line_number,
            custom_id=old.custom_id,
            model=old.model,
            max_tokens=old.max_tokens,
            metadata=old.metadata,
            prompt_tokens=old.prompt_tokens,
            prompt=old.prompt,
            failure=(code, ERROR_MESSAGES[code]),
            audio=old.audio,
        )
    return lines


def _build_job(
    rng: random.Random, plan: _JobPlan, now: datetime, models: frozenset[str]
) -> ScenarioJob:
    batch_id, input_id, output_id, error_id = (_uuid(rng) for _ in range(4))
    created_at = plan.created_at + timedelta(microseconds=rng.randrange(1_000_000))
    lines = _with_failures(batch_id, _lines(rng, plan), plan)
    start = created_at + timedelta(seconds=plan.validating_seconds)
    cancel_at = (
        None
        if plan.cancel_after_seconds is None
        else start + timedelta(seconds=plan.cancel_after_seconds)
    )
    return plan_job(
        batch_id=batch_id,
        input_file_id=f"file-{input_id}",
        output_file_id=f"file-{output_id}",
        error_file_id=f"file-{error_id}",
        created_at=created_at,
        lines=lines,
        validating_seconds=plan.validating_seconds,
        processing_seconds=plan.processing_seconds,
        cached_models=models,
        validation_error=validate_lines(lines),
        cancel_at=cancel_at,
        snapshot_now=now,
        input_filename=f"{plan.project}-{plan.created_at:%Y-%m-%d}.jsonl",
        **({"endpoint": plan.endpoint} if plan.endpoint else {}),
    )


def _build(plans: tuple[_JobPlan, ...], now: datetime, seed: int) -> Scenario:
    rng = random.Random(seed)
    user_id = f"{rng.getrandbits(96):024x}"
    cached = frozenset(m.name for m in DEMO_MODELS if m.reports_cached_tokens)
    jobs: list[ScenarioJob] = [_build_job(rng, plan, now, cached) for plan in plans]
    return Scenario(
        now=now, jobs=jobs, user_id=user_id, models=DEMO_MODELS, endpoints=DEMO_ENDPOINTS
    )


def demo_scenario() -> Scenario:
    """Thirteen jobs over October and November 2026 (see the module's _DEMO_JOBS table): one on
    a dedicated endpoint, one an audio transcription, one across the end of a model's batch
    discount."""
    return _build(_DEMO_JOBS, DEMO_NOW, DEMO_SEED)


def large_scenario(n_items: int = 50_000, *, model: str = LLAMA_70B, seed: int = 7) -> Scenario:
    """One COMPLETED job with `n_items` requests (one in ~1000 failing) for volume tests."""
    plan = _JobPlan(
        created_at=DEMO_NOW - timedelta(hours=5),
        model=model,
        n_items=n_items,
        team="search",
        project="ranking-eval",
        prefix="bulk",
        validating_seconds=300,
        processing_seconds=4 * 3600,
        failures=tuple((rank, "timeout") for rank in range(499, n_items, 1000)),
    )
    return _build((plan,), DEMO_NOW, seed)
