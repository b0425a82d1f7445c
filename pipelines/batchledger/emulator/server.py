"""HTTP layer: routing, auth, faults and byte-exact responses on a stdlib ThreadingHTTPServer."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from batchledger.emulator import render
from batchledger.emulator.clock import VirtualClock
from batchledger.emulator.faults import Faults
from batchledger.emulator.forms import FormError, parse_form
from batchledger.emulator.state import ApiError, ErrorStyle, Store, error_payload

CHUNK = 64 * 1024
UPLOAD_PREFIX = "/_emulator/upload/"
_CONTENT_PATH = re.compile(r"^/v1/files/[^/]+/content$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RequestRecord(NamedTuple):
    method: str
    path: str
    status: int
    bytes_sent: int


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # Reset fault: send the full Content-Length header, then only this many bytes, then drop.
    abort_after: int | None = None
    # A bulk file: the body is bytes [offset, offset + length) of this file, sent with sendfile.
    file: Path | None = None
    file_offset: int = 0
    file_length: int = 0

    @property
    def length(self) -> int:
        return self.file_length if self.file is not None else len(self.body)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(payload).encode(), headers=headers or {})


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str
    now: datetime
    params: dict[str, str] = field(default_factory=dict)
    # The query string's parameters (the last value of a name given twice).
    query: dict[str, str] = field(default_factory=dict)

    def json_body(self, style: ErrorStyle = "batch") -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, f"request body is not valid JSON: {exc}", style) from exc


def _style(path: str) -> ErrorStyle:
    return "files" if path.startswith("/v1/files") else "batch"


class EmulatorApp:
    """Everything behind the socket: one `handle()` per request, plus the request log."""

    def __init__(self, store: Store, clock: VirtualClock, faults: Faults, api_key: str | None):
        self.store = store
        self.clock = clock
        self.faults = faults
        self.api_key = api_key
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        route = Callable[[Request], Reply]
        self._routes: list[tuple[str, re.Pattern[str], route]] = [
            ("GET", re.compile(r"^/v1/batches$"), self._list_batches),
            ("POST", re.compile(r"^/v1/batches$"), self._create_batch),
            ("GET", re.compile(r"^/v1/batches/(?P<id>[^/]+)$"), self._get_batch),
            ("POST", re.compile(r"^/v1/batches/(?P<id>[^/]+)/cancel$"), self._cancel_batch),
            ("GET", re.compile(r"^/v1/endpoints$"), self._list_endpoints),
            ("GET", re.compile(r"^/v1/files$"), self._list_files),
            ("POST", re.compile(r"^/v1/files$"), self._create_file),
            ("POST", re.compile(r"^/v1/files/upload$"), self._upload_file),
            ("GET", re.compile(r"^/v1/files/(?P<id>[^/]+)$"), self._get_file),
            ("DELETE", re.compile(r"^/v1/files/(?P<id>[^/]+)$"), self._delete_file),
            ("GET", re.compile(r"^/v1/files/(?P<id>[^/]+)/content$"), self._file_content),
            ("POST", re.compile(r"^/v1/files/(?P<id>[^/]+)/preprocess$"), self._preprocess),
            ("PUT", re.compile(r"^/_emulator/upload/(?P<id>[^/]+)$"), self._put_upload),
            ("POST", re.compile(r"^/_emulator/advance$"), self._advance),
            ("GET", re.compile(r"^/_emulator/faults$"), self._get_faults),
            ("POST", re.compile(r"^/_emulator/faults$"), self._set_faults),
            ("GET", re.compile(r"^/_emulator/stats$"), self._stats),
        ]

    # -- request log ---------------------------------------------------------------------

    def record(self, entry: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(entry)

    def correct(self, entry: RequestRecord, corrected: RequestRecord) -> None:
        with self._log_lock:
            for i in range(len(self._log) - 1, -1, -1):
                if self._log[i] is entry:
                    self._log[i] = corrected
                    return

    def request_log(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def content_downloads(self) -> int:
        with self._log_lock:
            return sum(
                1
                for r in self._log
                if r.method == "GET" and r.status in (200, 206) and _CONTENT_PATH.match(r.path)
            )

    @staticmethod
    def is_control(path: str) -> bool:
        """Control calls stay out of the request log; the upload PUT is client traffic."""
        return path.startswith("/_emulator/") and not path.startswith(UPLOAD_PREFIX)

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        try:
            gated = self._gate(request) if request.path.startswith("/v1/") else None
            if gated is not None:
                return gated
            for method, pattern, route in self._routes:
                match = pattern.match(request.path)
                if match and method == request.method:
                    request.params = match.groupdict()
                    return route(request)
            style = _style(request.path)
            return Reply.json(404, error_payload(404, f"no route for {request.path}", style))
        except ApiError as exc:
            return Reply.json(exc.status, exc.payload(), exc.headers)

    def _gate(self, request: Request) -> Reply | None:
        """Auth and faults for /v1 requests, in the order a gateway would apply them."""
        style = _style(request.path)
        faults = self.faults
        applies = faults.applies_to(request.path)
        if applies and faults.slow_seconds > 0:
            time.sleep(faults.slow_seconds)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or (self.api_key and token != self.api_key):
            return Reply.json(401, error_payload(401, "Invalid API key provided", style))
        if applies and faults.take("rate_limit_burst"):
            retry_after = f"{faults.retry_after_seconds:g}"
            payload = error_payload(429, "Rate limit exceeded", style, "rate_limit_exceeded")
            return Reply.json(429, payload, {"Retry-After": retry_after})
        if applies and faults.take("server_errors"):
            return Reply.json(500, error_payload(500, "Internal server error", style))
        return None

    # -- batches -------------------------------------------------------------------------

    def _list_batches(self, req: Request) -> Reply:
        return Reply.json(200, self.store.list_batches(req.now))

    def _get_batch(self, req: Request) -> Reply:
        return Reply.json(200, self.store.get_batch(req.params["id"], req.now))

    def _create_batch(self, req: Request) -> Reply:
        return Reply.json(201, self.store.create_batch(req.json_body(), req.now))

    def _cancel_batch(self, req: Request) -> Reply:
        return Reply.json(200, self.store.cancel_batch(req.params["id"], req.now))

    # -- endpoints -----------------------------------------------------------------------

    def _list_endpoints(self, req: Request) -> Reply:
        return Reply.json(200, self.store.list_endpoints(req.now, req.query))

    # -- files ---------------------------------------------------------------------------

    def _list_files(self, req: Request) -> Reply:
        return Reply.json(200, self.store.list_files(req.now))

    def _get_file(self, req: Request) -> Reply:
        return Reply.json(200, self.store.get_file(req.params["id"], req.now))

    def _delete_file(self, req: Request) -> Reply:
        return Reply.json(200, self.store.delete_file(req.params["id"], req.now))

    def _form(self, req: Request) -> Any:
        try:
            return parse_form(req.headers.get("content-type", ""), req.body)
        except (FormError, UnicodeDecodeError) as exc:
            raise ApiError(400, str(exc), "files") from exc

    def _create_file(self, req: Request) -> Reply:
        form = self._form(req)
        if "file" in form.files:
            part = form.files["file"]
            return Reply.json(
                200, self.store.direct_upload(form.fields, part.filename, part.data, req.now)
            )
        file_id = self.store.begin_upload(form.fields, req.now)
        # Like Together: no redirect body; the client PUTs the bytes to the presigned URL.
        headers = {
            "Location": f"{req.base_url}{UPLOAD_PREFIX}{file_id}",
            "X-Together-File-Id": file_id,
        }
        return Reply(302, content_type=None, headers=headers)

    def _upload_file(self, req: Request) -> Reply:
        form = self._form(req)
        part = form.files.get("file")
        if part is None:
            raise ApiError(400, "file is required", "files", code="missing_field")
        return Reply.json(
            200, self.store.direct_upload(form.fields, part.filename, part.data, req.now)
        )

    def _put_upload(self, req: Request) -> Reply:
        self.store.put_upload(req.params["id"], req.body)
        return Reply(200, content_type=None)

    def _preprocess(self, req: Request) -> Reply:
        return Reply.json(200, self.store.preprocess(req.params["id"], req.now))

    def _file_content(self, req: Request) -> Reply:
        source = self.store.file_source(req.params["id"], req.now)
        reply = _ranged(source, req.headers.get("range"))
        faults = self.faults
        ok = reply.status in (200, 206) and faults.applies_to(req.path)
        if ok and faults.take("reset_downloads"):
            reply.abort_after = faults.reset_after_bytes
        return reply

    # -- control -------------------------------------------------------------------------

    def _advance(self, req: Request) -> Reply:
        seconds = req.json_body().get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError(400, "seconds must be a non-negative number")
        return Reply.json(200, {"now": render.rfc3339(self.clock.advance(float(seconds)))})

    def _get_faults(self, req: Request) -> Reply:
        return Reply.json(200, self.faults.as_dict())

    def _set_faults(self, req: Request) -> Reply:
        values = req.json_body()
        if not isinstance(values, dict):
            raise ApiError(400, "expected a JSON object of fault fields")
        try:
            self.faults.update(values)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        return Reply.json(200, self.faults.as_dict())

    def _stats(self, req: Request) -> Reply:
        stats = {"content_downloads": self.content_downloads(), "requests": len(self.request_log())}
        return Reply.json(200, stats)


def _ranged(source: bytes | Path, range_header: str | None) -> Reply:
    """200 with the whole file, or 206 for one `bytes=a-b` / `bytes=a-` / `bytes=-n` range.

    `source` is the content, or the path of a bulk file, which is sent from disk.
    """
    total = source.stat().st_size if isinstance(source, Path) else len(source)
    octets = "application/octet-stream"

    def part(status: int, start: int, end: int, headers: dict[str, str]) -> Reply:
        if isinstance(source, Path):
            reply = Reply(status, b"", octets, headers, file=source, file_offset=start)
            reply.file_length = end - start
            return reply
        return Reply(status, source[start:end], octets, headers)

    match = _RANGE.match(range_header.strip()) if range_header else None
    if match is None or match.groups() == ("", ""):
        # No range, or one we do not support (e.g. several ranges): the whole file.
        return part(200, 0, total, {"Accept-Ranges": "bytes"})
    first, last = match.groups()
    if first == "":
        start, end = max(total - int(last), 0), total - 1
    else:
        start = int(first)
        end = total - 1 if last == "" else min(int(last), total - 1)
    if start >= total or start > end:
        return Reply(416, b"", octets, {"Content-Range": f"bytes */{total}"})
    headers = {"Content-Range": f"bytes {start}-{end}/{total}", "Accept-Ranges": "bytes"}
    return part(206, start, end + 1, headers)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop idle keep-alive connections so stop() does not leave handler threads behind."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response is normal in tests (resets, timeouts): stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections
    timeout = 30  # idle keep-alive connections are dropped after this
    # Headers and body go out in separate writes; with Nagle on, each response stalls ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces stderr noise

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _base_url(self) -> str:
        host = self.headers.get("Host")
        if not host:
            address, port = self.server.server_address[:2]
            host = f"{address!s}:{port}"
        return f"http://{host}"

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        try:
            body = self._read_body()
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request(method, path, headers, body, self._base_url(), app.clock.now())
            request.query = dict(parse_qsl(split.query))
            reply = app.handle(request)
        except Exception as exc:  # a bug must become a 500, never a dead connection
            reply = Reply.json(500, error_payload(500, f"emulator error: {exc!r}", _style(path)))
        # Logged before the reply goes out, with the bytes it will send: a client that has its
        # answer (or a reset) must already find the request in the log. A send cut short by
        # the client corrects the entry afterwards.
        planned = (
            reply.length if reply.abort_after is None else min(reply.abort_after, reply.length)
        )
        entry = RequestRecord(method, path, reply.status, planned)
        logged = not app.is_control(path)
        if logged:
            app.record(entry)
        sent = self._send(reply, planned)
        if logged and sent != planned:
            app.correct(entry, entry._replace(bytes_sent=sent))

    def _send(self, reply: Reply, limit: int) -> int:
        sent = 0
        try:
            self.send_response(reply.status)
            if reply.content_type is not None:
                self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(reply.length))
            if reply.abort_after is not None:
                self.send_header("Connection", "close")
            self.end_headers()
            if reply.file is not None:
                sent = self._send_file(reply.file, reply.file_offset, limit)
            else:
                view = memoryview(reply.body)
                while sent < limit:
                    chunk = view[sent : min(sent + CHUNK, limit)]
                    self.wfile.write(chunk)
                    sent += len(chunk)
            self.wfile.flush()
            if reply.abort_after is not None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            self.close_connection = True
        return sent

    def _send_file(self, path: Path, offset: int, count: int) -> int:
        """Kernel-to-socket copy: serving gigabytes of bulk files costs this process ~no CPU."""
        self.wfile.flush()  # the headers first
        if count == 0:
            return 0
        with path.open("rb") as fh:
            sent: int = self.connection.sendfile(fh, offset, count)
            return sent
