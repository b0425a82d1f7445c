"""Wire shapes: BatchJob / FileResponse JSON and the JSONL lines of input, output and error files.

Key order matters here: output lines keep Together's observed order (`id`, `custom_id`,
`response`) and the completion body's keys are alphabetically sorted (contract §4.2).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from batchledger.emulator.scenario import (
    DEFAULT_MAX_TOKENS,
    TRANSLATIONS_ENDPOINT,
    ScenarioEndpoint,
    ScenarioItem,
    ScenarioJob,
    stable_hash,
)

_ANSWERS = (
    "positive",
    "negative",
    "neutral",
    "Escalate to tier 2.",
    "The user wants a refund for a duplicate charge.",
    "Rewrite: cheap flights to Lisbon in December",
    "Relevant (score 3/4).",
    "Not relevant.",
    "Label: billing",
    "Label: shipping",
    "Thanks for reaching out! I have reset your password; check your inbox for the link.",
    "Lead score: 72. Reason: enterprise domain, visited pricing twice.",
)

MALFORMED_LINE = b'{"id": "br_x", "custom_id": '


def rfc3339(moment: datetime) -> str:
    """Microsecond precision with a Z suffix, e.g. 2026-10-03T09:14:25.429872Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def request_id(batch_id: str, custom_id: str) -> str:
    """`br_` + 43 base64url characters (32 bytes, unpadded), stable per (batch, request)."""
    digest = hashlib.sha256(f"{batch_id}\x00{custom_id}".encode()).digest()
    return "br_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _completion_id(batch_id: str, custom_id: str) -> str:
    digest = hashlib.sha256(f"completion\x00{batch_id}\x00{custom_id}".encode()).hexdigest()
    return f"{digest[:7]}-{digest[7:13]}-{digest[13:29]}"


def batch_job(
    job: ScenarioJob, now: datetime, user_id: str, file_size_bytes: int
) -> dict[str, Any]:
    """BatchJob exactly as §3.2 lists it: no extra fields."""
    terminal = job.is_terminal_at(now)
    return {
        "id": job.batch_id,
        "user_id": user_id,
        "input_file_id": job.input_file_id,
        "file_size_bytes": file_size_bytes,
        "status": job.status_at(now),
        "job_deadline": rfc3339(job.job_deadline),
        "created_at": rfc3339(job.created_at),
        "endpoint": job.endpoint,
        "progress": job.progress_at(now),
        "model_id": job.model_id,
        "output_file_id": job.output_file_id if terminal else None,
        "error_file_id": job.error_file_id if terminal else None,
        "error": job.error if terminal else None,
        "completed_at": rfc3339(job.finished_at) if terminal else None,
    }


def file_response(
    *,
    file_id: str,
    created_at: int,
    filename: str,
    size: int,
    purpose: str,
    file_type: str,
    processed: bool,
    line_count: int,
    processing_status: str,
) -> dict[str, Any]:
    """The superset FileResponse of §3.4 that every SDK generation accepts."""
    return {
        "id": file_id,
        "object": "file",
        "created_at": created_at,
        "filename": filename,
        "bytes": size,
        "purpose": purpose,
        "FileType": file_type,
        "Processed": processed,
        "LineCount": line_count,
        "processing_status": processing_status,
    }


def input_line(item: ScenarioItem) -> bytes:
    if item.audio is not None:
        # An audio line (spec PR #277): method FILE, the audio's URL and its response format.
        audio_line: dict[str, Any] = {
            "custom_id": item.custom_id,
            "method": "FILE",
            "body": {
                "file": item.audio.file,
                "model": item.model,
                "response_format": item.audio.response_format,
            },
        }
        if item.metadata is not None:
            audio_line["metadata"] = item.metadata
        return json.dumps(audio_line).encode()
    body: dict[str, Any] = {
        "model": item.model,
        "messages": [{"role": "user", "content": item.prompt}],
    }
    if item.max_tokens is not None:
        body["max_tokens"] = item.max_tokens
    line: dict[str, Any] = {"custom_id": item.custom_id, "body": body}
    if item.metadata is not None:
        line["metadata"] = item.metadata
    return json.dumps(line).encode()


def audio_body(job: ScenarioJob, item: ScenarioItem) -> dict[str, Any]:
    """A transcription or translation response as together-py types it: `{text}` in the json
    format, `{duration, language, segments, task, text}` in verbose_json; keys sorted."""
    text = item.prompt or "Thanks for calling, how can I help you today?"
    if item.audio_duration is None:
        return {"text": text}
    # The duration is a JSON number; float() of a decimal with few digits writes it back
    # exactly as planned (187.52 stays 187.52).
    seconds = float(item.audio_duration)
    return {
        "duration": seconds,
        "language": "en",
        "segments": [
            {
                "end": seconds,
                "id": 0,
                "start": 0.0,
                "text": text,
                "tokens": [50364, stable_hash("tokens", item.custom_id) % 50000],
            }
        ],
        "task": "translate" if job.endpoint == TRANSLATIONS_ENDPOINT else "transcribe",
        "text": text,
    }


def output_line(job: ScenarioJob, item: ScenarioItem) -> bytes:
    if item.audio is not None:
        audio_line = {
            "id": request_id(job.batch_id, item.custom_id),
            "custom_id": item.custom_id,
            "response": {"status_code": 200, "body": audio_body(job, item)},
        }
        return json.dumps(audio_line).encode()
    assert item.prompt_tokens is not None and item.completion_tokens is not None
    h = stable_hash("answer", job.batch_id, item.custom_id)
    usage: dict[str, Any] = {
        "completion_tokens": item.completion_tokens,
        "prompt_tokens": item.prompt_tokens,
    }
    if item.cached_tokens is not None:
        # Not in any Together type; here so ingest proves it keeps unknown usage keys.
        usage["prompt_tokens_details"] = {"cached_tokens": item.cached_tokens}
    usage["total_tokens"] = item.prompt_tokens + item.completion_tokens
    limit = DEFAULT_MAX_TOKENS if item.max_tokens is None else item.max_tokens
    line = {
        "id": request_id(job.batch_id, item.custom_id),
        "custom_id": item.custom_id,
        "response": {
            "status_code": 200,
            "body": {
                "choices": [
                    {
                        "finish_reason": "length" if item.completion_tokens >= limit else "stop",
                        "index": 0,
                        "logprobs": None,
                        "message": {
                            "content": _ANSWERS[h % len(_ANSWERS)],
                            "role": "assistant",
                            "tool_calls": [],
                        },
                        "seed": h >> 1,
                    }
                ],
                "created": item.created,
                "id": _completion_id(job.batch_id, item.custom_id),
                "model": item.model,
                "object": "chat.completion",
                "prompt": [],
                "usage": usage,
            },
        },
    }
    return json.dumps(line).encode()


def error_line(job: ScenarioJob, item: ScenarioItem) -> bytes:
    line = {
        "id": request_id(job.batch_id, item.custom_id),
        "custom_id": item.custom_id,
        "error": {"message": item.error_message, "code": item.error_code},
    }
    return json.dumps(line).encode()


def _in_completion_order(job: ScenarioJob, outcome: str) -> list[ScenarioItem]:
    # Files are written as requests finish, which is a shuffle of input order.
    chosen = [i for i in job.items if i.outcome == outcome]
    chosen.sort(key=lambda i: (i.processed_at, i.line_number))
    return chosen


def output_lines(job: ScenarioJob) -> Iterator[bytes]:
    for item in _in_completion_order(job, "succeeded"):
        yield output_line(job, item)


def error_lines(job: ScenarioJob) -> Iterator[bytes]:
    for item in _in_completion_order(job, "failed"):
        yield error_line(job, item)


def input_lines(job: ScenarioJob) -> Iterator[bytes]:
    for item in sorted(job.items, key=lambda i: i.line_number):
        yield input_line(item)


def endpoint(entry: ScenarioEndpoint) -> dict[str, Any]:
    """An entry of GET /v1/endpoints (together-py's EndpointListResponse.Data): created_at in
    milliseconds with a Z, as Together's docs show it."""
    created = entry.created_at.astimezone(UTC)
    millis = f"{created.microsecond // 1000:03d}"
    return {
        "object": "endpoint",
        "id": entry.id,
        "name": entry.name,
        "model": entry.model,
        "type": entry.type,
        "owner": entry.owner,
        "state": entry.state,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z",
    }
