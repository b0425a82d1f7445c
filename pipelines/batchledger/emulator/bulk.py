"""Bulk jobs for scale runs: files written once to disk from line templates, served from disk.

A demo job holds every item as Python objects and its files as bytes, which at 10M lines is ~10 GB
of RAM. A bulk job keeps only its batch object in memory. Its input, output and error files are
written here once, by %-formatting fixed templates (json.dumps per line would be the bottleneck),
in the wire shapes of contract §4.1-§4.3, and the server streams them from disk.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# The demo's vocabulary: bulk text reads like the demo's, from one word list.
from batchledger.emulator.demo import _WORDS, DEEPSEEK_FLASH, LLAMA_70B, QWEN_7B
from batchledger.emulator.scenario import DEFAULT_MAX_TOKENS, ScenarioJob

BULK_MODELS = (LLAMA_70B, QWEN_7B, DEEPSEEK_FLASH)
VALIDATING_SECONDS = 300.0
PROCESSING_SECONDS = 4 * 3600.0
# Input files are uploaded shortly before their job is created (as in the demo).
UPLOAD_LEAD = timedelta(seconds=90)
# Lines per write: big enough that the join dominates, small enough to stay a few MB.
_WRITE_LINES = 10_000

# ~700-character answers, so that an output line is ~1 KB like a real chat completion's.
_ANSWERS = tuple(" ".join(_WORDS[(k + i) % len(_WORDS)] for i in range(80)) for k in range(8))
_PROMPTS = tuple(
    "Classify this ticket as billing, shipping, account or other. Ticket: "
    + " ".join(_WORDS[(k * 3 + i) % len(_WORDS)] for i in range(12 + 4 * k))
    for k in range(8)
)
# Contract §4.1 / §4.2 / §4.3, keys in Together's order (completion body keys sorted).
_INPUT = (
    '{"custom_id": "%s-%06d", "body": {"model": "%s", "messages": [{"role": "user", '
    '"content": "%s"}], "max_tokens": %d}, "metadata": {"team": "support", '
    '"project": "ticket-triage"}}\n'
)
_OUTPUT = (
    '{"id": "br_%s%09d", "custom_id": "%s-%06d", "response": {"status_code": 200, "body": '
    '{"choices": [{"finish_reason": "%s", "index": 0, "logprobs": null, "message": '
    '{"content": "%s", "role": "assistant", "tool_calls": []}, "seed": %d}], "created": %d, '
    '"id": "%s-%09d", "model": "%s", "object": "chat.completion", "prompt": [], "usage": '
    '{"completion_tokens": %d, "prompt_tokens": %d, "total_tokens": %d}}}}\n'
)
_ERROR = (
    '{"id": "br_%s%09d", "custom_id": "%s-%06d", "error": {"message": '
    '"Request timed out after 600 seconds", "code": "timeout"}}\n'
)


@dataclass(frozen=True)
class BulkFile:
    path: Path
    lines: int


@dataclass(frozen=True)
class BulkJob:
    """A COMPLETED job whose files live on disk. `job.items` is empty: nothing per line in RAM."""

    job: ScenarioJob
    input: BulkFile
    output: BulkFile | None
    error: BulkFile | None

    @property
    def result_lines(self) -> int:
        return sum(f.lines for f in (self.output, self.error) if f is not None)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()


def _uuid(*parts: object) -> str:
    return str(uuid.UUID(bytes=_digest(*parts)[:16], version=4))


def _stride(n: int) -> int:
    """A step coprime with n: (rank * step) % n visits every line once, in a shuffled order."""
    step = max(1, (n * 7) // 11)
    while math.gcd(step, n) != 1:
        step += 1
    return step


def is_failure(line_index: int, failure_every: int) -> bool:
    """Whether the request at this account-wide line index fails (goes to the error file)."""
    return failure_every > 0 and line_index % failure_every == failure_every // 2


def _write(path: Path, lines: Iterator[str]) -> int:
    count = 0
    buffer: list[str] = []
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            buffer.append(line)
            if len(buffer) == _WRITE_LINES:
                fh.write("".join(buffer))
                count += len(buffer)
                buffer.clear()
        fh.write("".join(buffer))
    return count + len(buffer)


def write_bulk_job(
    folder: Path,
    index: int,
    lines: int,
    *,
    created_at: datetime,
    first_line_index: int = 0,
    failure_every: int = 1000,
    seed: str = "bulk",
) -> BulkJob:
    """Write one job's input, output and error files under `folder` and describe the job.

    Every request either succeeds (a line in the output file) or fails with a timeout (a line in
    the error file), so output + error lines == `lines`. Result lines come in a deterministic
    shuffle of input order, as Together writes them when requests finish.
    `first_line_index` numbers lines account-wide, so that `failure_every` spreads failures over
    many small jobs too.
    """
    if lines < 1:
        raise ValueError("a bulk job needs at least one line")
    batch_id = _uuid(seed, index, "batch")
    input_id, output_id, error_id = (f"file-{_uuid(seed, index, kind)}" for kind in "ioe")
    model = BULK_MODELS[index % len(BULK_MODELS)]
    prefix = f"j{index:05d}"
    # 34 base64url characters + 9 digits: the 43 of a real `br_` id (contract §4.2).
    rid = _digest(seed, index).hex()[:34]
    cid = _digest(seed, index, "completion").hex()[:7]
    start = created_at + timedelta(seconds=VALIDATING_SECONDS)
    first_created = int(start.timestamp())
    folder.mkdir(parents=True, exist_ok=True)

    def inputs() -> Iterator[str]:
        for n in range(lines):
            yield _INPUT % (prefix, n, model, _PROMPTS[n % 8], DEFAULT_MAX_TOKENS)

    def results(failed: bool) -> Iterator[str]:
        step = _stride(lines)
        for rank in range(lines):
            n = (rank * step) % lines
            if is_failure(first_line_index + n, failure_every) != failed:
                continue
            if failed:
                yield _ERROR % (rid, n, prefix, n)
                continue
            prompt_tokens = len(_PROMPTS[n % 8]) // 4 + 8
            completion = (n * 7919) % (DEFAULT_MAX_TOKENS + DEFAULT_MAX_TOKENS // 10) + 1
            completion = min(completion, DEFAULT_MAX_TOKENS)
            created = first_created + int(PROCESSING_SECONDS * (rank + 1) / lines)
            finish = "length" if completion >= DEFAULT_MAX_TOKENS else "stop"
            yield _OUTPUT % (
                rid, n, prefix, n, finish, _ANSWERS[n % 8], n * 2654435761 % 2**31, created,
                cid, n, model, completion, prompt_tokens, prompt_tokens + completion,
            )  # fmt: skip

    def written(kind: str, source: Callable[[], Iterator[str]]) -> BulkFile | None:
        path = folder / f"{prefix}-{kind}.jsonl"
        count = _write(path, source())
        if count == 0:
            path.unlink()
            return None
        return BulkFile(path, count)

    input_file = written("input", inputs)
    assert input_file is not None
    output = written("output", lambda: results(False))
    error = written("error", lambda: results(True))
    finished = start + timedelta(seconds=PROCESSING_SECONDS)
    job = ScenarioJob(
        batch_id=batch_id,
        input_file_id=input_id,
        output_file_id=output_id if output else None,
        error_file_id=error_id if error else None,
        final_status="COMPLETED",
        created_at=created_at,
        completed_at=finished,
        items=(),
        finished_at=finished,
        validating_seconds=VALIDATING_SECONDS,
        processing_seconds=PROCESSING_SECONDS,
        model_id=model,
        input_filename=f"{prefix}-input.jsonl",
    )
    return BulkJob(job=job, input=input_file, output=output, error=error)


def job_span() -> timedelta:
    """From a bulk job's creation to its completion."""
    return timedelta(seconds=VALIDATING_SECONDS + PROCESSING_SECONDS)


def write_bulk_jobs(
    folder: Path,
    jobs: int,
    lines_per_job: int,
    *,
    now: datetime,
    first_index: int = 0,
    failure_every: int = 1000,
) -> list[BulkJob]:
    """`jobs` COMPLETED jobs, created ten minutes apart and all finished by `now`."""
    last_created = now - job_span() - timedelta(minutes=1)
    return [
        write_bulk_job(
            folder,
            first_index + k,
            lines_per_job,
            created_at=last_created - timedelta(minutes=10 * (jobs - 1 - k)),
            first_line_index=(first_index + k) * lines_per_job,
            failure_every=failure_every,
        )
        for k in range(jobs)
    ]
