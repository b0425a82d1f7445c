"""Work out which items of a finished job failed or were never processed, and write a retry.

It reads the job's own files (landing copies first, else downloaded again), so it does not
depend on the dbt build.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchledger.landing import file_path, landing_path
from batchledger.ops.errors import OpsUsageError
from batchledger.ops.estimate import AUDIO_ENDPOINTS, CHAT_ENDPOINT
from batchledger.settings import Settings
from batchledger.statuses import is_terminal
from batchledger.together import TogetherClient


@dataclass
class ItemOutcomes:
    batch_id: str
    status: str
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # custom_id -> input line
    succeeded: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # custom_id -> error code

    @property
    def not_processed(self) -> list[str]:
        done = self.succeeded | set(self.failed)
        return [cid for cid in self.inputs if cid not in done]


class FileSource:
    """Finds a file's content: the ingest's landing copy, else a fresh download to a temp dir."""

    def __init__(self, settings: Settings, client: TogetherClient) -> None:
        self.settings = settings
        self.client = client
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def path(self, file_id: str, batch_id: str) -> Path:
        if self.settings.landing_dir is not None:
            landed = landing_path(self.settings.landing_dir, file_id)
            if landed.exists():
                return landed
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="batchledger-ops-")
        dest = file_path(Path(self._tmp.name), file_id)
        if not dest.exists():
            self.client.download_file(file_id, dest, batch_id=batch_id)
        return dest

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for raw in lines:
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a malformed result line says nothing trustworthy about its item
            if isinstance(record, dict) and isinstance(record.get("custom_id"), str):
                yield record


def item_outcomes(job: dict[str, Any], files: FileSource) -> ItemOutcomes:
    batch_id = str(job["id"])
    if not is_terminal(job):
        raise OpsUsageError(
            f"batch {batch_id} is {job.get('status')}: retry once it has ended (or cancel it)"
        )
    outcomes = ItemOutcomes(batch_id=batch_id, status=str(job.get("status")))
    if job.get("input_file_id"):
        for record in _records(files.path(str(job["input_file_id"]), batch_id)):
            outcomes.inputs[record["custom_id"]] = record
    if job.get("output_file_id"):
        for record in _records(files.path(str(job["output_file_id"]), batch_id)):
            outcomes.succeeded.add(record["custom_id"])
    if job.get("error_file_id"):
        for record in _records(files.path(str(job["error_file_id"]), batch_id)):
            error = record.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            outcomes.failed[record["custom_id"]] = str(code or "unknown")
    return outcomes


def select_retry(
    outcomes: ItemOutcomes, *, codes: list[str] | None, include_not_processed: bool
) -> list[str]:
    """custom_ids to retry, in input order."""
    wanted = {cid for cid, code in outcomes.failed.items() if not codes or code in codes}
    if include_not_processed:
        wanted |= set(outcomes.not_processed)
    ordered = [cid for cid in outcomes.inputs if cid in wanted]
    # Failed items whose input line is unknown cannot be rebuilt; callers report them.
    return ordered


def followup_endpoint(job: dict[str, Any]) -> str | None:
    """The endpoint a follow-up of `job` is created on: the job's own, so that an audio job's
    retry is transcribed (or translated) again rather than sent to chat. None when the batch
    object names no endpoint: submit then decides from the lines."""
    endpoint = job.get("endpoint")
    if endpoint is None or endpoint == "":
        return None
    if endpoint not in (CHAT_ENDPOINT, *AUDIO_ENDPOINTS):
        raise OpsUsageError(
            f"batch {job.get('id')} ran on endpoint {str(endpoint)!r}, which batchledger cannot "
            f"submit to (it knows {CHAT_ENDPOINT} and {' and '.join(AUDIO_ENDPOINTS)})"
        )
    return str(endpoint)


def truncate_body(body: dict[str, Any], limit: int) -> dict[str, Any]:
    """Cut each text content to `limit` characters, keeping the start (the instruction)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                message["content"] = message["content"][:limit]
    if isinstance(body.get("prompt"), str):
        body["prompt"] = body["prompt"][:limit]
    return body


def write_followup(
    outcomes: ItemOutcomes, custom_ids: list[str], dest: Path, *, truncate_chars: int | None
) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8") as out:
        for cid in custom_ids:
            record = outcomes.inputs[cid]
            given = record.get("body")
            body: dict[str, Any] = given if isinstance(given, dict) else {}
            if truncate_chars is not None:
                body = truncate_body(body, truncate_chars)
            # Every other field (metadata above all) is kept, so the retry's items land in the
            # same cohorts as the originals.
            out.write(json.dumps({**record, "custom_id": cid, "body": body}) + "\n")
    return len(custom_ids)
