"""An httpx client for together.ai's Batch and Files APIs.

The wire contract is shared/reference/together-api.md.

It retries what is transient, streams file content to disk and turns every failure into a
`TogetherError` whose message is fit for a user and never contains the API key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from batchledger import __version__
from batchledger.together.errors import (
    TogetherAPIError,
    TogetherAuthError,
    TogetherError,
    TogetherNotFoundError,
    TogetherUnreachableError,
)
from batchledger.together.retry import RetryPolicy

DEFAULT_BASE_URL = "https://api.together.ai"
USER_AGENT = f"batchledger/{__version__} httpx/{httpx.__version__}"
# Connect fast, but give a slow server time to stream a large result file.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=120.0, pool=30.0)
CHUNK_BYTES = 1 << 20
MAX_UPLOAD_REDIRECTS = 20

log = logging.getLogger(__name__)

# Exceptions after which the same request may simply be sent again.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TransportError,  # connect/read/write errors, timeouts, protocol errors
)


def normalize_base_url(base_url: str) -> str:
    """The host root, as the official SDK takes it; a trailing `/v1` is tolerated."""
    url = base_url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    if not url.startswith(("http://", "https://")):
        raise TogetherError(f"TOGETHER_BASE_URL must start with http:// or https://, got {url!r}")
    return url


@dataclass(frozen=True)
class Download:
    path: Path
    bytes: int
    sha256: str


class TogetherClient:
    """Synchronous client; thread-safe for concurrent downloads (httpx.Client is)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise TogetherAuthError("No API key: set TOGETHER_API_KEY")
        self.base_url = normalize_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        # Presigned upload URLs point at object storage: never send them our bearer token.
        self._bare = httpx.Client(
            timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False
        )

    def __enter__(self) -> TogetherClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._bare.close()

    # -- batches -----------------------------------------------------------------------------

    def list_batches(self) -> list[dict[str, Any]]:
        """Every batch job. The server has no pagination and may answer a literal `null`."""
        body = self._json("GET", "/v1/batches", what="the batch list")
        if body is None:
            return []
        if not isinstance(body, list):
            kind = type(body).__name__
            raise TogetherAPIError(f"GET /v1/batches: expected a JSON array, got {kind}")
        return body

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        return self._object("GET", f"/v1/batches/{batch_id}", what=f"batch {batch_id}")

    def create_batch(
        self,
        input_file_id: str,
        *,
        endpoint: str = "/v1/chat/completions",
        completion_window: str = "24h",
        model_id: str | None = None,
        priority: int | None = None,
    ) -> tuple[dict[str, Any], str | None]:
        """Create a batch; returns (job, warning). A `{job: null}` answer is a refusal."""
        payload: dict[str, Any] = {
            "endpoint": endpoint,
            "input_file_id": input_file_id,
            "completion_window": completion_window,
        }
        if model_id:
            payload["model_id"] = model_id
        if priority is not None:
            payload["priority"] = priority
        body = self._json("POST", "/v1/batches", what="a new batch", json_body=payload)
        # The SDKs tolerate both the {job, warning} envelope and a bare job.
        if isinstance(body, dict) and "job" in body:
            job, warning = body.get("job"), body.get("warning")
        else:
            job, warning = body, None
        if not job:
            reason = warning or "no reason given"
            raise TogetherAPIError(f"Together did not create the batch: {reason}")
        return job, warning

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        return self._object("POST", f"/v1/batches/{batch_id}/cancel", what=f"batch {batch_id}")

    # -- files -------------------------------------------------------------------------------

    def list_files(self) -> list[dict[str, Any]]:
        body = self._json("GET", "/v1/files", what="the file list")
        if isinstance(body, dict):
            return list(body.get("data") or [])
        return list(body or [])

    def get_file(self, file_id: str, *, batch_id: str | None = None) -> dict[str, Any]:
        return self._object("GET", f"/v1/files/{file_id}", what=_file_label(file_id, batch_id))

    def download_file(self, file_id: str, dest: Path, *, batch_id: str | None = None) -> Download:
        """Stream a file's content to `dest`, resuming or restarting after a broken read.

        Bytes go to `dest.part` first and are renamed into place only once the byte count matches
        Content-Length, so a partial file never looks complete.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        what = _file_label(file_id, batch_id)
        hasher = hashlib.sha256()
        received = 0
        total: int | None = None
        try:
            with part.open("wb") as out:
                for attempt in range(1, self.retry.max_attempts + 1):
                    headers = {"Accept": "application/binary"}
                    if received:
                        headers["Range"] = f"bytes={received}-"
                    try:
                        with self._http.stream(
                            "GET", f"/v1/files/{file_id}/content", headers=headers
                        ) as response:
                            if response.status_code in (200, 206):
                                if response.status_code == 200 and received:
                                    # The server ignored the Range: start over.
                                    out.seek(0)
                                    out.truncate()
                                    hasher, received = hashlib.sha256(), 0
                                total = _content_total(response, received)
                                for chunk in response.iter_bytes(CHUNK_BYTES):
                                    out.write(chunk)
                                    hasher.update(chunk)
                                    received += len(chunk)
                                if total is not None and received != total:
                                    raise httpx.RemoteProtocolError(
                                        f"short read: {received} of {total} bytes"
                                    )
                                break
                            response.read()
                            if not self._retryable(response, attempt):
                                self._raise_for(response, what)
                            self._wait(attempt, response, f"download of {what}")
                    except TRANSIENT_ERRORS as exc:
                        if attempt >= self.retry.max_attempts:
                            raise TogetherUnreachableError(
                                f"Download of {what} kept failing ({type(exc).__name__}); "
                                f"gave up after {attempt} attempts"
                            ) from None
                        log.warning("download of %s broke after %d bytes; retrying", what, received)
                        self._wait(attempt, None, f"download of {what}")
                else:
                    raise TogetherAPIError(f"Download of {what} failed after {attempt} attempts")
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            # Never leave a partial file behind, whatever stopped the download.
            part.unlink(missing_ok=True)
            raise
        os.replace(part, dest)
        return Download(path=dest, bytes=received, sha256=hasher.hexdigest())

    def upload_file(self, path: Path, *, purpose: str = "batch-api") -> dict[str, Any]:
        """Upload a JSONL with the SDK flow: announce (302 + presigned URL), PUT, preprocess."""
        size = path.stat().st_size
        checksum = sha256_file(path)
        file_type = path.suffix.lstrip(".").lower() or "jsonl"
        fields = {
            "purpose": purpose,
            "file_name": path.name,
            "file_type": file_type,
            "checksum": checksum,
        }
        body, content_type = _multipart_fields(fields)
        response = self._request(
            "POST",
            "/v1/files",
            what=f"the upload of {path.name}",
            content=body,
            headers={"Content-Type": content_type},
            ok=(302, 409),
        )
        if response.status_code == 409:
            # Same bytes were uploaded before: the server names the existing file.
            existing = _json_of(response).get("file_id")
            if not existing:
                raise TogetherAPIError("Upload refused as a duplicate without naming the file")
            return self.get_file(existing)
        location = response.headers.get("location")
        file_id = response.headers.get("x-together-file-id")
        if not location or not file_id:
            raise TogetherAPIError("Upload announcement lacked Location or X-Together-File-Id")
        self._put_content(location, path, size)
        return self._object("POST", f"/v1/files/{file_id}/preprocess", what=f"file {file_id}")

    # -- plumbing ----------------------------------------------------------------------------

    def _put_content(self, url: str, path: Path, size: int) -> None:
        for attempt in range(1, self.retry.max_attempts + 1):
            target = url
            try:
                for _ in range(MAX_UPLOAD_REDIRECTS):
                    with path.open("rb") as fh:
                        response = self._bare.put(
                            target,
                            content=_iter_file(fh),
                            headers={"Content-Length": str(size)},
                        )
                    if response.status_code in (301, 302, 303, 307, 308):
                        target = response.headers["location"]
                        continue
                    break
            except TRANSIENT_ERRORS as exc:
                if attempt >= self.retry.max_attempts:
                    raise TogetherUnreachableError(
                        f"Upload of {path.name} kept failing ({type(exc).__name__})"
                    ) from None
                self._wait(attempt, None, f"upload of {path.name}")
                continue
            if response.status_code == 200:
                return
            if not self._retryable(response, attempt):
                raise TogetherAPIError(
                    f"Upload of {path.name} to storage failed with HTTP {response.status_code}",
                    response.status_code,
                )
            self._wait(attempt, response, f"upload of {path.name}")

    def _object(self, method: str, path: str, *, what: str) -> dict[str, Any]:
        """A request whose answer must be one JSON object (a BatchJob or a FileResponse)."""
        body = self._json(method, path, what=what)
        if not isinstance(body, dict):
            kind = type(body).__name__
            raise TogetherAPIError(f"{method} {path}: expected a JSON object, got {kind}")
        return body

    def _json(self, method: str, path: str, *, what: str, json_body: Any = None) -> Any:
        response = self._request(method, path, what=what, json=json_body)
        try:
            return response.json()
        except json.JSONDecodeError:
            raise TogetherAPIError(f"{method} {path}: the answer was not JSON") from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        ok: tuple[int, ...] = (200, 201),
        **kwargs: Any,
    ) -> httpx.Response:
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except TRANSIENT_ERRORS as exc:
                if attempt >= self.retry.max_attempts:
                    raise TogetherUnreachableError(
                        f"Could not reach Together at {self.base_url} for {what} "
                        f"({type(exc).__name__}); check TOGETHER_BASE_URL and the network"
                    ) from None
                self._wait(attempt, None, f"{method} {path}")
                continue
            log.debug("%s %s -> %s", method, path, response.status_code)
            if response.status_code in ok:
                return response
            if not self._retryable(response, attempt):
                self._raise_for(response, what)
            self._wait(attempt, response, f"{method} {path}")
        raise AssertionError("unreachable")  # the loop either returns or raises

    def _retryable(self, response: httpx.Response, attempt: int) -> bool:
        return attempt < self.retry.max_attempts and self.retry.should_retry(response)

    def _wait(self, attempt: int, response: httpx.Response | None, what: str) -> None:
        delay = self.retry.delay(attempt, response)
        status = response.status_code if response is not None else "connection error"
        log.info("%s: %s, retry %d in %.1fs", what, status, attempt, delay)
        self._sleep(delay)

    def _raise_for(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        detail = _error_detail(response)
        if status in (401, 403):
            raise TogetherAuthError(
                f"Together refused the request for {what} (HTTP {status}): check TOGETHER_API_KEY"
            )
        if status == 404:
            raise TogetherNotFoundError(f"Together has no {what} (HTTP 404)")
        raise TogetherAPIError(
            f"Together answered HTTP {status} for {what}" + (f": {detail}" if detail else ""),
            status,
        )


def _file_label(file_id: str, batch_id: str | None) -> str:
    return f"file {file_id} of batch {batch_id}" if batch_id else f"file {file_id}"


def _content_total(response: httpx.Response, offset: int) -> int | None:
    """Expected end offset of the content: from Content-Range on a 206, else Content-Length."""
    content_range = response.headers.get("content-range", "")
    if response.status_code == 206 and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    length = response.headers.get("content-length")
    if length and length.isdigit():
        return offset + int(length) if response.status_code == 206 else int(length)
    return None


def _error_detail(response: httpx.Response) -> str:
    """The server's own message from either error envelope, kept short."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:200].strip()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error)[:200] if error else ""


def _json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except json.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _multipart_fields(fields: dict[str, str]) -> tuple[bytes, str]:
    """multipart/form-data with fields only: the v3 SDK's announce step sends no file part."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


def _iter_file(fh: Any) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK_BYTES):
        yield chunk


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    hasher = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in _iter_file(fh):
            hasher.update(chunk)
    return hasher.hexdigest()
