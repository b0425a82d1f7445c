"""In-memory jobs and files store: lifecycle on the virtual clock, uploads, generated files.

Every method takes the virtual `now` of the request, so one request sees one consistent instant.
A single re-entrant lock guards all state; file bytes are handed out and streamed outside it.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from batchledger.emulator import render
from batchledger.emulator.bulk import BulkJob
from batchledger.emulator.faults import Faults
from batchledger.emulator.scenario import (
    CHAT_ENDPOINT,
    Scenario,
    ScenarioJob,
    parse_input_file,
    plan_job,
)

FileKind = Literal["input", "output", "error"]
ErrorStyle = Literal["batch", "files"]

VALIDATING_SECONDS = 10.0
SECONDS_PER_LINE = 2.0
MIN_PROCESSING_SECONDS = 30.0
# Keeps big uploads (50k lines) inside the 24 h window instead of expiring them.
MAX_PROCESSING_SECONDS = 6 * 3600.0
# Demo input files were uploaded shortly before their job was created.
INPUT_UPLOAD_LEAD = timedelta(seconds=90)
ENDPOINTS = frozenset(
    {CHAT_ENDPOINT, "/v1/completions", "/v1/audio/transcriptions", "/v1/audio/translations"}
)


class ApiError(Exception):
    """An HTTP error in the envelope of the endpoint family (§1: batch vs files)."""

    def __init__(
        self,
        status: int,
        message: str,
        style: ErrorStyle = "batch",
        *,
        code: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.style = style
        self.code = code
        self.body = body
        self.headers = headers or {}

    def payload(self) -> Any:
        if self.body is not None:
            return self.body
        return error_payload(self.status, self.message, self.style, self.code)


def error_payload(status: int, message: str, style: ErrorStyle, code: str | None = None) -> Any:
    if style == "batch":
        return {"error": message}
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    file_type: str
    created_at: int
    kind: FileKind
    # None: an upload still waiting for its PUT, or a result file not generated yet.
    data: bytes | None = None
    checksum: str | None = None
    processing_status: str = "COMPLETED"
    line_count: int = 0
    batch_id: str | None = None
    visible_from: datetime | None = None
    deleted: bool = False
    # Bulk files: the content lives on disk and is streamed from there instead of held in `data`.
    path: Path | None = None

    @property
    def has_content(self) -> bool:
        return self.data is not None or self.path is not None

    @property
    def size(self) -> int:
        if self.path is not None:
            return self.path.stat().st_size
        return len(self.data or b"")


def _count_lines(data: bytes) -> int:
    return sum(1 for line in data.splitlines() if line.strip())


def _file_type(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return suffix if suffix in {"jsonl", "csv", "parquet"} else "jsonl"


class Store:
    def __init__(self, scenario: Scenario, faults: Faults) -> None:
        self.scenario = scenario
        self.faults = faults
        self._lock = threading.RLock()
        self._jobs: dict[str, ScenarioJob] = {}
        self._input_sizes: dict[str, int] = {}
        self._files: dict[str, StoredFile] = {}
        self._malformed: list[tuple[str, int]] = []
        for job in scenario.jobs:
            self._add_scenario_job(job)

    # -- setup ---------------------------------------------------------------------------

    def _add_scenario_job(self, job: ScenarioJob) -> None:
        data = b"".join(line + b"\n" for line in render.input_lines(job))
        uploaded = job.created_at - INPUT_UPLOAD_LEAD
        self._files[job.input_file_id] = StoredFile(
            id=job.input_file_id,
            filename=job.input_filename,
            purpose="batch-api",
            file_type="jsonl",
            created_at=int(uploaded.timestamp()),
            kind="input",
            data=data,
            checksum=hashlib.sha256(data).hexdigest(),
            line_count=len(job.items),
            visible_from=uploaded,
        )
        self._register_job(job, len(data))

    def add_bulk_job(self, bulk: BulkJob) -> None:
        """A COMPLETED job whose files are already on disk (see `bulk.py`); it appears in the
        lists as soon as the virtual clock has passed its creation."""
        job = bulk.job
        uploaded = job.created_at - INPUT_UPLOAD_LEAD
        finished = int(job.finished_at.timestamp())
        with self._lock:
            if job.batch_id in self._jobs:
                raise ValueError(f"batch {job.batch_id} already exists")
            self._files[job.input_file_id] = StoredFile(
                id=job.input_file_id,
                filename=job.input_filename,
                purpose="batch-api",
                file_type="jsonl",
                created_at=int(uploaded.timestamp()),
                kind="input",
                line_count=bulk.input.lines,
                visible_from=uploaded,
                path=bulk.input.path,
            )
            self._register_job(job, bulk.input.path.stat().st_size)
            for file_id, on_disk in (
                (job.output_file_id, bulk.output),
                (job.error_file_id, bulk.error),
            ):
                if file_id is not None and on_disk is not None:
                    stored = self._files[file_id]
                    stored.path, stored.line_count, stored.created_at = (
                        on_disk.path,
                        on_disk.lines,
                        finished,
                    )

    def _register_job(self, job: ScenarioJob, input_size: int) -> None:
        self._jobs[job.batch_id] = job
        self._input_sizes[job.batch_id] = input_size
        results: tuple[tuple[str | None, FileKind], ...] = (
            (job.output_file_id, "output"),
            (job.error_file_id, "error"),
        )
        for file_id, kind in results:
            if file_id is not None:
                self._files[file_id] = StoredFile(
                    id=file_id,
                    filename=f"{job.batch_id}_{kind}.jsonl",
                    purpose="batch-generated",
                    file_type="jsonl",
                    created_at=0,  # set from the job's finish when served
                    kind=kind,
                    batch_id=job.batch_id,
                )

    # -- inspection (Python API) ---------------------------------------------------------

    def job(self, batch_id: str) -> ScenarioJob:
        with self._lock:
            return self._jobs[batch_id]

    def jobs(self) -> list[ScenarioJob]:
        with self._lock:
            return list(self._jobs.values())

    @property
    def malformed_lines(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._malformed)

    # -- endpoints -----------------------------------------------------------------------

    def list_endpoints(self, now: datetime, query: dict[str, str]) -> dict[str, Any]:
        """GET /v1/endpoints: {"object": "list", "data": [...]}, filtered by `type`
        (dedicated, serverless), `usage_type` (on-demand, reserved) and `mine` (true, false)."""
        allowed = {
            "type": ("dedicated", "serverless"),
            "usage_type": ("on-demand", "reserved"),
            "mine": ("true", "false"),
        }
        for name, value in query.items():
            if name in allowed and value not in allowed[name]:
                raise ApiError(400, f"invalid {name}: {value}")
        entries = [
            e
            for e in self.scenario.endpoints
            if e.created_at <= now
            and query.get("type", e.type) == e.type
            and query.get("usage_type", e.usage_type) == e.usage_type
            and query.get("mine", str(e.is_mine).lower()) == str(e.is_mine).lower()
        ]
        return {"object": "list", "data": [render.endpoint(e) for e in entries]}

    # -- batches -------------------------------------------------------------------------

    def _batch_json(self, job: ScenarioJob, now: datetime) -> dict[str, Any]:
        size = self._input_sizes[job.batch_id]
        return render.batch_job(job, now, self.scenario.user_id, size)

    def list_batches(self, now: datetime) -> list[dict[str, Any]] | None:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.created_at <= now]
            jobs.sort(key=lambda j: j.created_at, reverse=True)
            # Together answers an empty list with a literal null (§2 B2).
            return [self._batch_json(j, now) for j in jobs] or None

    def _visible_job(self, batch_id: str, now: datetime) -> ScenarioJob:
        job = self._jobs.get(batch_id)
        if job is None or job.created_at > now:
            raise ApiError(404, "batch not found")
        return job

    def get_batch(self, batch_id: str, now: datetime) -> dict[str, Any]:
        with self._lock:
            return self._batch_json(self._visible_job(batch_id, now), now)

    def create_batch(self, request: Any, now: datetime) -> dict[str, Any]:
        if not isinstance(request, dict):
            raise ApiError(400, "request body must be a JSON object")
        endpoint = request.get("endpoint")
        input_file_id = request.get("input_file_id")
        if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
            raise ApiError(400, f"endpoint must be one of {', '.join(sorted(ENDPOINTS))}")
        if not isinstance(input_file_id, str) or not input_file_id:
            raise ApiError(400, "input_file_id is required")
        model_id = request.get("model_id")
        if model_id is not None and not isinstance(model_id, str):
            raise ApiError(400, "model_id must be a string")
        with self._lock:
            stored = self._files.get(input_file_id)
            if stored is None or not self._file_visible(stored, now) or stored.kind != "input":
                raise ApiError(400, f"input file {input_file_id} not found")
            if not stored.has_content:
                raise ApiError(400, f"input file {input_file_id} has not been uploaded")
            if stored.purpose != "batch-api":
                raise ApiError(400, "input file purpose must be batch-api")
            data = stored.data if stored.path is None else stored.path.read_bytes()
            assert data is not None
        lines, validation_error = parse_input_file(data)
        processing = min(
            max(SECONDS_PER_LINE * len(lines), MIN_PROCESSING_SECONDS), MAX_PROCESSING_SECONDS
        )
        job = plan_job(
            batch_id=str(uuid.uuid4()),
            input_file_id=input_file_id,
            output_file_id=f"file-{uuid.uuid4()}",
            error_file_id=f"file-{uuid.uuid4()}",
            created_at=now,
            lines=lines,
            validating_seconds=VALIDATING_SECONDS,
            processing_seconds=processing,
            cached_models=self.scenario.cached_token_models(),
            # Like the real server, derive the model from the request bodies when not given.
            model_id=model_id,
            validation_error=validation_error,
            endpoint=endpoint,
            input_filename=stored.filename,
        )
        with self._lock:
            self._register_job(job, len(data))
            return {"job": self._batch_json(job, now), "warning": None}

    def cancel_batch(self, batch_id: str, now: datetime) -> dict[str, Any]:
        with self._lock:
            job = self._visible_job(batch_id, now)
            if job.is_terminal_at(now):
                raise ApiError(400, f"batch {batch_id} is already {job.final_status}")
            if job.cancel_requested_at is None:
                job = job.cancelled(now)
                self._jobs[batch_id] = job
            return self._batch_json(job, now)

    # -- files ---------------------------------------------------------------------------

    def _file_visible(self, stored: StoredFile, now: datetime) -> bool:
        if stored.deleted:
            return False
        if stored.kind == "input":
            if stored.visible_from is not None and stored.visible_from > now:
                return False
            return stored.has_content
        job = self._jobs[stored.batch_id or ""]
        return job.is_terminal_at(now) and stored.id in (job.output_file_id, job.error_file_id)

    def _get_file(self, file_id: str, now: datetime) -> StoredFile:
        stored = self._files.get(file_id)
        if stored is None or not self._file_visible(stored, now):
            raise ApiError(404, f"file {file_id} not found", "files", code="file_not_found")
        self._materialize(stored)
        return stored

    def _materialize(self, stored: StoredFile) -> None:
        """Generate a result file on first use; the malformed-line fault applies from then on."""
        if stored.has_content or stored.kind == "input":
            return
        job = self._jobs[stored.batch_id or ""]
        lines = list(
            render.output_lines(job) if stored.kind == "output" else render.error_lines(job)
        )
        if stored.kind == "output" and self.faults.malformed_output_line:
            position = min(3, len(lines) + 1)
            lines.insert(position - 1, render.MALFORMED_LINE)
            self._malformed.append((stored.id, position))
        stored.data = b"".join(line + b"\n" for line in lines)
        stored.line_count = len(lines)
        stored.created_at = int(job.finished_at.timestamp())

    def _file_json(self, stored: StoredFile) -> dict[str, Any]:
        return render.file_response(
            file_id=stored.id,
            created_at=stored.created_at,
            filename=stored.filename,
            size=stored.size,
            purpose=stored.purpose,
            file_type=stored.file_type,
            processed=stored.processing_status == "COMPLETED",
            line_count=stored.line_count,
            processing_status=stored.processing_status,
        )

    def list_files(self, now: datetime) -> dict[str, Any]:
        with self._lock:
            visible = [f for f in self._files.values() if self._file_visible(f, now)]
            for stored in visible:
                self._materialize(stored)
            visible.sort(key=lambda f: (f.created_at, f.id))
            return {"object": "list", "data": [self._file_json(f) for f in visible]}

    def get_file(self, file_id: str, now: datetime) -> dict[str, Any]:
        with self._lock:
            return self._file_json(self._get_file(file_id, now))

    def file_content(self, file_id: str, now: datetime) -> bytes:
        source = self.file_source(file_id, now)
        return source.read_bytes() if isinstance(source, Path) else source

    def file_source(self, file_id: str, now: datetime) -> bytes | Path:
        """The content, or for a bulk file the path to stream it from."""
        with self._lock:
            stored = self._get_file(file_id, now)
            if stored.path is not None:
                return stored.path
            assert stored.data is not None
            return stored.data

    def delete_file(self, file_id: str, now: datetime) -> dict[str, Any]:
        with self._lock:
            self._get_file(file_id, now).deleted = True
            return {"id": file_id, "object": "file", "deleted": True}

    # -- uploads (F5-F7, F12) ------------------------------------------------------------

    def _duplicate_of(self, checksum: str) -> str | None:
        for stored in self._files.values():
            live = stored.kind == "input" and not stored.deleted and stored.data is not None
            if live and stored.checksum == checksum:
                return stored.id
        return None

    def _conflict(self, checksum: str | None) -> None:
        existing = self._duplicate_of(checksum) if checksum else None
        if existing is not None:
            # Without x-should-retry: false the v3 client would retry the 409 (§1).
            raise ApiError(
                409,
                "file already exists",
                "files",
                body={"file_id": existing},
                headers={"x-should-retry": "false"},
            )

    @staticmethod
    def _require(fields: dict[str, str], name: str) -> str:
        value = fields.get(name, "").strip()
        if not value:
            raise ApiError(400, f"{name} is required", "files", code="missing_field")
        return value

    def begin_upload(self, fields: dict[str, str], now: datetime) -> str:
        """F5: reserve a file id; the bytes arrive later with PUT on the returned location."""
        purpose = self._require(fields, "purpose")
        filename = self._require(fields, "file_name")
        checksum = fields.get("checksum", "").strip().lower() or None
        with self._lock:
            self._conflict(checksum)
            file_id = f"file-{uuid.uuid4()}"
            self._files[file_id] = StoredFile(
                id=file_id,
                filename=filename,
                purpose=purpose,
                file_type=fields.get("file_type") or _file_type(filename),
                created_at=int(now.timestamp()),
                kind="input",
                checksum=checksum,
                processing_status="PENDING",
            )
            return file_id

    def put_upload(self, file_id: str, data: bytes) -> None:
        """F6: the presigned PUT. Verifies the sha256 promised in F5, if any."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None or stored.kind != "input" or stored.deleted:
                raise ApiError(404, "upload not found", "files", code="file_not_found")
            digest = hashlib.sha256(data).hexdigest()
            if stored.checksum is not None and stored.checksum != digest:
                raise ApiError(
                    400, "checksum mismatch: sha256 of the body differs", "files",
                    code="checksum_mismatch",
                )  # fmt: skip
            stored.data = data
            stored.checksum = digest

    def preprocess(self, file_id: str, now: datetime) -> dict[str, Any]:
        """F7: the upload callback; the file becomes COMPLETED with its line count."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None or stored.deleted or stored.kind != "input":
                raise ApiError(404, f"file {file_id} not found", "files", code="file_not_found")
            if stored.data is None:
                raise ApiError(400, "file content has not been uploaded", "files")
            stored.line_count = _count_lines(stored.data)
            stored.processing_status = "COMPLETED"
            return self._file_json(stored)

    def direct_upload(
        self, fields: dict[str, str], filename: str | None, data: bytes, now: datetime
    ) -> dict[str, Any]:
        """F12 (and a `file` part on F5): bytes in the request, processed at once."""
        purpose = self._require(fields, "purpose")
        name = fields.get("file_name", "").strip() or filename or "upload.jsonl"
        digest = hashlib.sha256(data).hexdigest()
        claimed = fields.get("checksum", "").strip().lower()
        if claimed and claimed != digest:
            raise ApiError(400, "checksum mismatch", "files", code="checksum_mismatch")
        with self._lock:
            self._conflict(digest)
            stored = StoredFile(
                id=f"file-{uuid.uuid4()}",
                filename=name,
                purpose=purpose,
                file_type=fields.get("file_type") or _file_type(name),
                created_at=int(now.timestamp()),
                kind="input",
                data=data,
                checksum=digest,
                line_count=_count_lines(data),
            )
            self._files[stored.id] = stored
            return self._file_json(stored)
