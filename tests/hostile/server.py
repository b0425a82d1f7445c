"""A hostile Together-compatible server: it forwards to the emulator and mangles chosen answers.

Each test switches on what it attacks with: ids renamed to paths, content cut short without or
with a lying Content-Length, gzip, trickled bytes, huge Retry-After, the Authorization header
echoed back, junk in the batch list. Everything not switched on is the emulator's own answer, so
the expected counts come from the emulator's scenario.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from batchledger.emulator import Emulator

_CONTENT = re.compile(r"^/v1/files/([^/]+)/content$")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    # How to send it: all at once, cut after `cut` bytes and closed (with or without the real
    # Content-Length), or one byte per `trickle` seconds.
    cut: int | None = None
    length: int | None = None  # the Content-Length to claim; None: no header at all
    trickle: float | None = None


Mangle = Callable[[str, str, Answer], Answer | None]


@dataclass
class Hostile:
    upstream: Emulator
    # Hostile id -> real id; answers have real ids replaced by hostile ones.
    renamed: dict[str, str] = field(default_factory=dict)
    # Applied in order to every answer: (method, real path, answer) -> changed answer or None.
    mangles: list[Mangle] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""

    def __post_init__(self) -> None:
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                hostile._handle(self, "GET")

            def do_POST(self) -> None:
                hostile._handle(self, "POST")

            def do_PUT(self) -> None:
                hostile._handle(self, "PUT")

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Hostile:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- helpers tests use -------------------------------------------------------------------

    def rename(self, real: str, hostile: str) -> None:
        self.renamed[hostile] = real

    def content_requests(self, file_id: str) -> int:
        return sum(1 for _, path in self.requests if path == f"/v1/files/{file_id}/content")

    # -- plumbing ----------------------------------------------------------------------------

    def _real_path(self, raw_path: str) -> str:
        """Undo the renaming in the request path: each segment unquoted, mapped, re-quoted."""
        parts = [unquote(p) for p in urlsplit(raw_path).path.split("/")]
        return "/".join(quote(self.renamed.get(p, p), safe="") for p in parts)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = self._real_path(handler.path)
        self.requests.append((method, unquote(path)))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        answer = self._forward(method, path, dict(handler.headers.items()), body)
        for mangle in self.mangles:
            answer = mangle(method, path, answer) or answer
        _send(handler, answer)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        host, port = urlsplit(self.upstream.base_url).netloc.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        keep = {"Authorization", "Content-Type", "Range", "Accept"}
        sent = {k: v for k, v in headers.items() if k in keep}
        conn.request(method, path, body=body or None, headers=sent)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        out = {
            k: v
            for k, v in response.getheaders()
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "date")
        }
        for hostile, real in self.renamed.items():
            data = data.replace(json.dumps(real).encode(), json.dumps(hostile).encode())
        return Answer(response.status, out, data, length=len(data))


def _send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    try:
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        if answer.length is not None:
            handler.send_header("Content-Length", str(answer.length))
        if answer.cut is not None or answer.length is None:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        body = answer.body if answer.cut is None else answer.body[: answer.cut]
        if answer.trickle is not None:
            for i in range(len(body)):
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
                time.sleep(answer.trickle)
        else:
            handler.wfile.write(body)
        handler.wfile.flush()
        if handler.close_connection:
            handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        handler.close_connection = True


# -- mangles ---------------------------------------------------------------------------------


def content_of(file_id: str, change: Callable[[Answer], Answer]) -> Mangle:
    """Apply `change` to the 200/206 content answers of one file."""

    def mangle(method: str, path: str, answer: Answer) -> Answer | None:
        match = _CONTENT.match(path)
        ours = method == "GET" and match is not None and unquote(match.group(1)) == file_id
        return change(answer) if ours and answer.status in (200, 206) else None

    return mangle


def truncated(lying_length: bool) -> Callable[[Answer], Answer]:
    """Half the bytes, then the connection closes: no Content-Length, or one that matches the
    cut (so the transfer itself looks complete)."""

    def change(answer: Answer) -> Answer:
        cut = max(1, len(answer.body) // 2)
        answer.headers.pop("Content-Range", None)
        answer.status = 200
        return Answer(
            200, answer.headers, answer.body, cut=cut, length=cut if lying_length else None
        )

    return change


def gzipped(answer: Answer) -> Answer:
    packed = gzip.compress(answer.body)
    headers = {**answer.headers, "Content-Encoding": "gzip"}
    return Answer(answer.status, headers, packed, length=len(packed))


def trickled(seconds: float) -> Callable[[Answer], Answer]:
    def change(answer: Answer) -> Answer:
        return Answer(
            answer.status, answer.headers, answer.body, length=len(answer.body), trickle=seconds
        )

    return change


def on_path(
    method: str, path: str, change: Callable[[Answer], Answer], times: int = 10**9
) -> Mangle:
    """Apply `change` to the first `times` answers to `method path`."""
    left = [times]

    def mangle(m: str, p: str, answer: Answer) -> Answer | None:
        if m == method and p == path and left[0] > 0:
            left[0] -= 1
            return change(answer)
        return None

    return mangle


def json_body(change: Callable[[Any], Any]) -> Callable[[Answer], Answer]:
    def apply(answer: Answer) -> Answer:
        data = json.dumps(change(json.loads(answer.body))).encode()
        return Answer(answer.status, answer.headers, data, length=len(data))

    return apply
