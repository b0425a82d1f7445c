"""Submit a JSONL: validate, estimate, confirm, upload, create, record; optionally wait."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batchledger.ops.api import progress_of
from batchledger.ops.errors import OpsUsageError
from batchledger.ops.estimate import AUDIO_ENDPOINTS, CHAT_ENDPOINT, Estimate, is_audio_request
from batchledger.ops.validate import Checked, check_file, write_requests
from batchledger.pricing import is_not_available_for_batch
from batchledger.settings import Settings
from batchledger.statuses import is_terminal
from batchledger.store import Submission, record_submission
from batchledger.together import TogetherClient


@dataclass
class Submitted:
    job: dict[str, Any]
    warning: str | None
    submission: Submission
    estimate: Estimate


def parse_tags(raw: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OpsUsageError(f"--tag expects key=value, got {item!r}")
        tags[key.strip()] = value.strip()
    return tags


def checked_file(path: Path, *, model: str | None, max_tokens: int | None) -> Checked:
    """Validate, raising one usage error listing every problem by line."""
    if not path.is_file():
        raise OpsUsageError(f"no such file: {path}")
    checked = check_file(path, model=model, max_tokens=max_tokens)
    if checked.problems:
        shown = checked.problems[:50]
        more = len(checked.problems) - len(shown)
        lines = [f"{path.name}: {problem}" for problem in shown]
        if more:
            lines.append(f"... and {more} more")
        raise OpsUsageError(
            f"{len(checked.problems)} problem(s), nothing uploaded:\n" + "\n".join(lines)
        )
    return checked


def unavailable_for_batch(checked: Checked, *, force: bool) -> list[str]:
    """Refuse models Together's batch page lists as not available for batch (such a job
    fails); with `force`, one warning per model instead. Models without a batch discount are
    not refused: they run at standard rates."""
    lines: dict[str, int] = {}
    for request in checked.requests:
        if is_not_available_for_batch(request.model):
            lines[request.model] = lines.get(request.model, 0) + 1
    messages = [
        f"{model} ({count} line(s)) is not available for batch on Together: its batch jobs fail"
        for model, count in sorted(lines.items())
    ]
    if messages and not force:
        raise OpsUsageError(
            "\n".join(messages) + "\nnothing uploaded (pass --force to submit anyway)"
        )
    return messages


def batch_endpoint(checked: Checked, endpoint: str | None) -> str:
    """The endpoint to create the batch on: chat unless --endpoint names an audio one, which
    audio lines (method FILE) need; a file that mixes the two cannot be one batch."""
    audio = sum(is_audio_request(request) for request in checked.requests)
    if audio and audio < len(checked.requests):
        raise OpsUsageError(
            f"{audio} of {len(checked.requests)} lines are audio requests: a batch is either "
            "audio or chat; split the file"
        )
    if endpoint is None:
        if audio:
            raise OpsUsageError(
                "audio lines need --endpoint /v1/audio/transcriptions or /v1/audio/translations"
            )
        return CHAT_ENDPOINT
    if endpoint not in (CHAT_ENDPOINT, *AUDIO_ENDPOINTS):
        raise OpsUsageError(
            f"--endpoint must be one of {CHAT_ENDPOINT}, {', '.join(AUDIO_ENDPOINTS)}"
        )
    if (endpoint in AUDIO_ENDPOINTS) != bool(audio):
        kind = "audio" if audio else "chat"
        raise OpsUsageError(f"{endpoint} does not take {kind} lines")
    return endpoint


def submit_checked(
    client: TogetherClient,
    settings: Settings,
    path: Path,
    checked: Checked,
    result: Estimate,
    *,
    tags: dict[str, str],
    parent_batch_id: str | None = None,
    endpoint: str = CHAT_ENDPOINT,
) -> Submitted:
    models = sorted({request.model for request in checked.requests})
    with tempfile.TemporaryDirectory(prefix="batchledger-submit-") as tmp:
        upload_path = path
        if checked.rewritten:
            # Send exactly what was validated and estimated, defaults filled in, same file name.
            upload_path = Path(tmp) / path.name
            write_requests(checked.requests, upload_path)
        uploaded = client.upload_file(upload_path)
    job, warning = client.create_batch(
        str(uploaded["id"]), endpoint=endpoint, model_id=models[0] if len(models) == 1 else None
    )
    total = result.total_usd
    submission = Submission(
        batch_id=str(job["id"]),
        submitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        file=str(path.resolve()),
        input_file_id=str(uploaded["id"]),
        model=models[0] if len(models) == 1 else None,
        lines=len(checked.requests),
        estimate_usd=str(total) if total is not None else None,
        tags=tags,
        parent_batch_id=parent_batch_id,
    )
    record_submission(settings, submission)
    return Submitted(job=job, warning=warning, submission=submission, estimate=result)


def wait_for(
    client: TogetherClient,
    batch_id: str,
    *,
    interval: float,
    on_poll: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until the job ends and return the final job; `on_poll(status, percent)` after each
    poll (the CLI draws a bar from it)."""
    while True:
        job = client.get_batch(batch_id)
        if on_poll is not None:
            on_poll(str(job.get("status")), progress_of(job))
        if is_terminal(job):
            return job
        sleep(interval)
