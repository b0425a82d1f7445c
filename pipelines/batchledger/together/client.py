"""An httpx client for together.ai's Batch and Files APIs.

The wire contract is shared/reference/together-api.md.

It retries what is transient, streams file content to disk, bounds the time and size of
everything a server sends, checks listed objects (records.py) and turns every failure into a
`TogetherError` whose message is fit for a user and never contains the API key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import quote

import httpx

from batchledger import __version__
from batchledger.together import limits as limits_module
from batchledger.together.deadline import Deadline, active, http_client
from batchledger.together.errors import (
    TogetherAPIError,
    TogetherAuthError,
    TogetherError,
    TogetherFileUnavailableError,
    TogetherNotFoundError,
    TogetherTimeoutError,
    TogetherUnreachableError,
)
from batchledger.together.limits import (
    ENDPOINT_BYTES,
    REQUEST_LIMIT_LABEL,
    SIZE_LIMIT_SETTING,
    TRANSFER_LIMIT_LABEL,
    ClientLimits,
)
from batchledger.together.records import (
    BATCH_FIELDS,
    FILE_FIELDS,
    Cleaned,
    clean_batches,
    clean_endpoints,
    clean_files,
    clean_record,
)
from batchledger.together.redact import Redactor
from batchledger.together.retry import Attempts, RetryPolicy

DEFAULT_BASE_URL = "https://api.together.ai"
USER_AGENT = f"batchledger/{__version__} httpx/{httpx.__version__}"
# Per socket operation; whole operations are bounded by `ClientLimits` and deadlines.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=120.0, pool=30.0)
CHUNK_BYTES = 1 << 20
MAX_UPLOAD_REDIRECTS = 20
# An error body is read this far for its message, never further.
ERROR_BODY_BYTES = 64 << 10

log = logging.getLogger(__name__)

# Exceptions after which the same request may simply be sent again.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TransportError,  # connect/read/write errors, timeouts, protocol errors
)


class _ShortContent(Exception):
    """A download ended before the content the server or the metadata promised."""


def normalize_base_url(base_url: str) -> str:
    """The host root, as the official SDK takes it; a trailing `/v1` is tolerated."""
    url = base_url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    if not url.startswith(("http://", "https://")):
        raise TogetherError(f"TOGETHER_BASE_URL must start with http:// or https://, got {url!r}")
    return url


def segment(entity_id: str) -> str:
    """An id as one URL path segment: quoted, so `../x` or `a/b` can never become another path
    through URL normalisation. Plain ids (every real Together id) are unchanged."""
    quoted = quote(entity_id, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


@dataclass(frozen=True)
class Download:
    path: Path
    bytes: int
    sha256: str


class TogetherClient:
    """Synchronous client; thread-safe for concurrent downloads (httpx.Client is).

    `deadline` bounds everything this client does (use one per run); `limits` bounds each call
    and each transfer within it.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limits: ClientLimits | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        if not api_key:
            raise TogetherAuthError("No API key: set TOGETHER_API_KEY")
        self.base_url = normalize_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self.limits = limits or limits_module.DEFAULT_LIMITS
        self.deadline = deadline
        # One line per batch or file object skipped or repaired, for the run's summary.
        self.warnings: list[str] = []
        self._redactor = Redactor(api_key)
        self._sleep = sleep
        self._http = http_client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        # Presigned upload URLs point at object storage: never send them our bearer token.
        self._bare = http_client(
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
        """Every usable batch job. The server has no pagination and may answer a literal `null`;
        entries that are not usable batch objects are skipped with a warning (`self.warnings`)."""
        # Answered as a bare array, not in a {"data": [...]} envelope (contract B2).
        return self._list("/v1/batches", "batch", clean_batches, enveloped=False)

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        what = f"batch {batch_id}"
        body = self._json("GET", f"/v1/batches/{segment(batch_id)}", what=what)
        return self._batch_object(body, what)

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
        warning = str(warning)[:500] if warning is not None else None
        if not job:
            reason = warning or "no reason given"
            raise TogetherAPIError(f"Together did not create the batch: {reason}")
        return self._batch_object(job, "the new batch"), warning

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        what = f"batch {batch_id}"
        body = self._json("POST", f"/v1/batches/{segment(batch_id)}/cancel", what=what)
        return self._batch_object(body, what)

    # -- endpoints ---------------------------------------------------------------------------

    def list_endpoints(self, endpoint_type: str | None = None) -> list[dict[str, Any]]:
        """Every usable endpoint, optionally only `dedicated` or `serverless` ones (GET
        /v1/endpoints, answered as {"object": "list", "data": [...]}). Unusable entries are
        skipped with a warning (`self.warnings`)."""
        if endpoint_type not in (None, "dedicated", "serverless"):
            raise ValueError(f"endpoint type must be dedicated or serverless, not {endpoint_type}")
        path = "/v1/endpoints" + (f"?type={endpoint_type}" if endpoint_type else "")
        most = self.limits.max_endpoints
        return self._list(
            path, "endpoint", clean_endpoints, max_entries=most, max_bytes=most * ENDPOINT_BYTES
        )

    # -- files -------------------------------------------------------------------------------

    def list_files(self) -> list[dict[str, Any]]:
        """Every usable file object (answered as {"object": "list", "data": [...]} or a bare
        list). Unusable entries are skipped with a warning (`self.warnings`)."""
        return self._list("/v1/files", "file", clean_files)

    def get_file(self, file_id: str, *, batch_id: str | None = None) -> dict[str, Any]:
        what = _file_label(file_id, batch_id)
        body = self._json("GET", f"/v1/files/{segment(file_id)}", what=what)
        record, warnings = clean_record(body, FILE_FIELDS, "file", safe_id=False)
        self._warn(warnings)
        if record is None:
            raise TogetherAPIError(f"GET {what}: {'; '.join(warnings)}")
        return record

    def download_file(
        self,
        file_id: str,
        dest: Path,
        *,
        batch_id: str | None = None,
        expected_bytes: int | None = None,
        expected_lines: int | None = None,
    ) -> Download:
        """Stream a file's content to `dest`, resuming or restarting after a broken read.

        Bytes go to `dest.part` first and are renamed into place only once the download is
        complete: as long as Content-Length or Content-Range say, and at least as long as the
        file's metadata (`expected_bytes`, `expected_lines`) say. A file that stays short, or
        breaks, on every attempt raises `TogetherFileUnavailableError`: never a partial file.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        what = _file_label(file_id, batch_id)
        deadline = self._deadline(self.limits.transfer_seconds, TRANSFER_LIMIT_LABEL)
        attempts = Attempts(self.retry, deadline, f"download of {what}", sleep=self._sleep)
        got = _Received(self._redactor)
        path = f"/v1/files/{segment(file_id)}/content"
        first_reason = ""  # the first failure says most; later ones follow from it
        try:
            with part.open("wb") as out, active(deadline):
                while True:
                    try:
                        error = self._stream_into(path, out, got)
                        if error is None:
                            _check_complete(got, expected_bytes, expected_lines)
                            break
                        if not attempts.again(error):
                            self._raise_for(error, what)
                    except (httpx.TransportError, _ShortContent) as exc:
                        deadline.check(f"Download of {what}")
                        reason = str(exc) if isinstance(exc, _ShortContent) else type(exc).__name__
                        first_reason = first_reason or reason
                        if not attempts.again(None):
                            raise TogetherFileUnavailableError(
                                f"Download of {what} failed on every attempt ({first_reason}); "
                                "nothing of it was loaded"
                            ) from None
                        log.warning("download of %s: %s; retrying", what, reason)
                out.flush()
                os.fsync(out.fileno())
        except TogetherTimeoutError as exc:
            part.unlink(missing_ok=True)
            if deadline is self.deadline:
                raise  # the whole run is out of time: stop it
            # Only this file is too slow: skip it, load the rest, try it again next run.
            raise TogetherFileUnavailableError(f"{exc}; nothing of it was loaded") from None
        except BaseException:
            # Never leave a partial file behind, whatever stopped the download.
            part.unlink(missing_ok=True)
            raise
        if got.echoed_key:
            part.unlink(missing_ok=True)
            raise TogetherFileUnavailableError(
                f"The content of {what} contains our API key; it was not stored"
            )
        os.replace(part, dest)
        return Download(path=dest, bytes=got.bytes, sha256=got.hasher.hexdigest())

    def _stream_into(self, path: str, out: BinaryIO, got: _Received) -> httpx.Response | None:
        """One attempt of a download: stream the content into `out`, from where `got` ends (a
        Range request once it holds bytes). None when the body was as long as its headers
        said; an error answer (read, closed) for the caller to retry or raise. A broken
        transfer raises httpx.TransportError or _ShortContent."""
        # identity: byte offsets for Range resumes are offsets of the content itself.
        headers = {"Accept": "application/binary", "Accept-Encoding": "identity"}
        if got.bytes:
            headers["Range"] = f"bytes={got.bytes}-"
        with self._http.stream("GET", path, headers=headers) as response:
            if response.status_code in (200, 206):
                _receive(response, out, got)
                return None
            if response.status_code == 416 and got.bytes:
                # Nothing past what we have: the file is shorter than promised.
                served = got.bytes
                _restart(out, got)
                raise _ShortContent(f"nothing served past byte {served}")
            return _detached(response, self._read_error_body(response))

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
        # multipart/form-data with fields only, as the v3 SDK's announce step sends it: a
        # (None, value) part is a plain field, with neither file name nor content type.
        response = self._request(
            "POST",
            "/v1/files",
            what=f"the upload of {path.name}",
            files={name: (None, value) for name, value in fields.items()},
            ok=(302, 409),
        )
        if response.status_code == 409:
            # Same bytes were uploaded before: the server names the existing file.
            existing = _json_of(response).get("file_id")
            if not existing or not isinstance(existing, str):
                raise TogetherAPIError("Upload refused as a duplicate without naming the file")
            return self.get_file(self._redactor.text(existing))
        location = response.headers.get("location")
        file_id = response.headers.get("x-together-file-id")
        if not location or not file_id:
            raise TogetherAPIError("Upload announcement lacked Location or X-Together-File-Id")
        file_id = self._redactor.text(file_id)
        self._put_content(location, path, size)
        what = f"file {file_id}"
        body = self._json("POST", f"/v1/files/{segment(file_id)}/preprocess", what=what)
        record, warnings = clean_record(body, FILE_FIELDS, "file", safe_id=False)
        if record is None:
            raise TogetherAPIError(f"POST {what}: {'; '.join(warnings)}")
        return record

    # -- plumbing ----------------------------------------------------------------------------

    def _list(
        self,
        path: str,
        what: str,
        clean: Callable[[list[Any]], Cleaned],
        *,
        enveloped: bool = True,
        max_entries: int | None = None,
        max_bytes: int | None = None,
    ) -> list[dict[str, Any]]:
        """GET a list of `what` objects (batch, file, endpoint): its entries, from the
        {"data": [...]} envelope when `enveloped` (a bare array is taken too), else a bare
        array only; a literal null (or no `data`) is an empty list, anything else a
        TogetherAPIError, as is a list of more than `max_entries` entries (or an answer of
        more than `max_bytes`, below the client's own size limit). `clean` checks each entry:
        unusable ones are skipped with a warning (`self.warnings`), never fatal."""
        body = self._json("GET", path, what=f"the {what} list", max_bytes=max_bytes)
        entries = body.get("data") if enveloped and isinstance(body, dict) else body
        if entries is None:
            return []
        if not isinstance(entries, list):
            kind = type(entries).__name__
            raise TogetherAPIError(f"GET {path}: expected a list of {what} objects, got {kind}")
        if max_entries is not None and len(entries) > max_entries:
            raise TogetherAPIError(
                f"GET {path}: the {what} list has {len(entries):,} entries, more than the "
                f"{max_entries:,} read; refused"
            )
        cleaned = clean(entries)
        self._warn(cleaned.warnings)
        return cleaned.records

    def _warn(self, warnings: list[str]) -> None:
        for warning in warnings:
            log.warning("%s", warning)
        self.warnings.extend(warnings)

    def _batch_object(self, body: Any, what: str) -> dict[str, Any]:
        record, warnings = clean_record(body, BATCH_FIELDS, "batch", safe_id=True)
        self._warn(warnings)
        if record is None:
            raise TogetherAPIError(f"Together's answer for {what} is unusable: {warnings[0]}")
        return record

    def _deadline(self, seconds: float, label: str) -> Deadline:
        return Deadline.earliest(self.deadline, Deadline.after(seconds, label))

    def _put_content(self, url: str, path: Path, size: int) -> None:
        what = f"upload of {path.name}"
        deadline = self._deadline(self.limits.transfer_seconds, TRANSFER_LIMIT_LABEL)
        attempts = Attempts(self.retry, deadline, what, sleep=self._sleep)
        with active(deadline):
            while True:
                target = url
                try:
                    for _ in range(MAX_UPLOAD_REDIRECTS):
                        with (
                            path.open("rb") as fh,
                            self._bare.stream(
                                "PUT",
                                target,
                                content=_iter_file(fh),
                                headers={"Content-Length": str(size)},
                            ) as response,
                        ):
                            self._read_error_body(response)
                        if response.status_code in (301, 302, 303, 307, 308):
                            target = response.headers["location"]
                            continue
                        break
                except TRANSIENT_ERRORS as exc:
                    deadline.check(what.capitalize())
                    if not attempts.again(None):
                        raise TogetherUnreachableError(
                            f"Upload of {path.name} kept failing ({type(exc).__name__})"
                        ) from None
                    continue
                if response.status_code == 200:
                    return
                if not attempts.again(response):
                    raise TogetherAPIError(
                        f"Upload of {path.name} to storage failed with HTTP {response.status_code}",
                        response.status_code,
                    )

    def _json(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json_body: Any = None,
        max_bytes: int | None = None,
    ) -> Any:
        response = self._request(method, path, what=what, max_bytes=max_bytes, json=json_body)
        try:
            body = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise TogetherAPIError(f"{method} {path}: the answer was not JSON") from None
        # Always walked: a key spelled with JSON \\u escapes is only visible once decoded.
        return self._redactor.json(body)

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        ok: tuple[int, ...] = (200, 201),
        max_bytes: int | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One API call: its body read whole (bounded by the client's size limit, or by
        `max_bytes` if lower), retried while transient and in time."""
        deadline = self._deadline(self.limits.request_seconds, REQUEST_LIMIT_LABEL)
        attempts = Attempts(self.retry, deadline, f"{method} {path}", sleep=self._sleep)
        with active(deadline):
            while True:
                try:
                    with self._http.stream(method, path, **kwargs) as streamed:
                        if streamed.status_code in ok:
                            body = self._read_capped(streamed, what, max_bytes)
                        else:
                            body = self._read_error_body(streamed)
                        response = _detached(streamed, body)
                except TRANSIENT_ERRORS as exc:
                    deadline.check(f"The request for {what}")
                    if not attempts.again(None):
                        raise TogetherUnreachableError(
                            f"Could not reach Together at {self.base_url} for {what} "
                            f"({type(exc).__name__}); check TOGETHER_BASE_URL and the network"
                        ) from None
                    continue
                log.debug("%s %s -> %s", method, path, response.status_code)
                if response.status_code in ok:
                    return response
                if not attempts.again(response):
                    self._raise_for(response, what)

    def _read_capped(self, response: httpx.Response, what: str, max_bytes: int | None) -> bytes:
        limit = self.limits.max_json_bytes
        mb = f"{limit / (1 << 20):g} MB"
        advice = f"raise {SIZE_LIMIT_SETTING} if your account really is that large"
        if max_bytes is not None and max_bytes < limit:
            limit, mb = max_bytes, f"{max_bytes / (1 << 20):.1f} MB"
            advice = "the limit of this list"
        declared = response.headers.get("content-length", "")
        too_big = TogetherAPIError(
            f"Together's answer for {what} is larger than {mb}; refused ({advice})"
        )
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:  # counted after decoding, so a gzip bomb stops here too
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    def _read_error_body(self, response: httpx.Response) -> bytes:
        """The start of an error body, enough for its message; the rest is never read."""
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes(ERROR_BODY_BYTES):
            chunks.append(chunk)
            size += len(chunk)
            if size >= ERROR_BODY_BYTES:
                break
        return b"".join(chunks)[:ERROR_BODY_BYTES]

    def _raise_for(self, response: httpx.Response, what: str) -> NoReturn:
        status = response.status_code
        detail = self._redactor.text(_error_detail(response))
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


class _Received:
    """What a download has written so far, and its checks."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.restart()
        self.echoed_key = False

    def restart(self) -> None:
        self.bytes = 0
        self.lines = 0
        self.last = b""
        self.hasher = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        # The tail of the previous chunk too, so a key split across two chunks is still seen.
        window = self.last[-256:] + chunk
        self.echoed_key = self.echoed_key or self.redactor.contains_secret(window)
        self.bytes += len(chunk)
        self.lines += chunk.count(b"\n")
        self.last = window[-256:]
        self.hasher.update(chunk)

    @property
    def line_count(self) -> int:
        """Lines as `wc -l` would count them, plus an unterminated last line."""
        return self.lines + (1 if self.last and not self.last.endswith(b"\n") else 0)


def _receive(response: httpx.Response, out: Any, got: _Received) -> None:
    """Append a 200/206 response to `out`, restarting when the server did not resume where we
    asked; raise `_ShortContent` when the body ends before its headers said."""
    encoded = response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
    if response.status_code == 200 and got.bytes:
        _restart(out, got)  # the server ignored the Range: this is the whole file again
    elif response.status_code == 206 and (_range_start(response) != got.bytes or encoded):
        # Another range than the one asked for, or an encoded one: unusable; start over.
        _restart(out, got)
        raise _ShortContent("the server answered another range than the one asked for")
    offset = got.bytes
    for chunk in response.iter_bytes(CHUNK_BYTES):
        out.write(chunk)
        got.add(chunk)
    total = _content_total(response, offset)
    # Content-Length counts the bytes on the wire: compare it with those, not the decoded ones.
    wire = response.num_bytes_downloaded if encoded else got.bytes - offset
    if total is not None and offset + wire != total and not encoded:
        raise _ShortContent(f"short read: {got.bytes} of {total} bytes")
    length = response.headers.get("content-length", "")
    if encoded and length.isdigit() and wire != int(length):
        raise _ShortContent(f"short read: {wire} of {length} encoded bytes")


def _restart(out: Any, got: _Received) -> None:
    out.seek(0)
    out.truncate()
    got.restart()


def _check_complete(got: _Received, expected_bytes: int | None, expected_lines: int | None) -> None:
    """Never less than the metadata says; a file may have grown since it was listed."""
    if expected_bytes is not None and got.bytes < expected_bytes:
        raise _ShortContent(
            f"got {got.bytes} of the {expected_bytes} bytes the file's metadata lists"
        )
    if expected_lines is not None and got.line_count < expected_lines:
        raise _ShortContent(
            f"got {got.line_count} of the {expected_lines} lines the file's metadata lists"
        )


def _detached(response: httpx.Response, body: bytes) -> httpx.Response:
    """A read, closed response as a plain one: the body already decoded, so no encoding header."""
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


def _file_label(file_id: str, batch_id: str | None) -> str:
    return f"file {file_id} of batch {batch_id}" if batch_id else f"file {file_id}"


def _range_start(response: httpx.Response) -> int:
    """Where a 206 body starts (Content-Range `bytes a-b/total`); 0 for a 200."""
    if response.status_code != 206:
        return 0
    content_range = response.headers.get("content-range", "")
    first = content_range.removeprefix("bytes ").split("-", 1)[0].strip()
    return int(first) if first.isdigit() else -1


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
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return response.content[:200].decode("utf-8", "replace").strip()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error)[:200] if error else ""


def _json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


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
