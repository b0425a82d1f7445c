"""Time limits on whole operations, enforced at every socket read and write.

httpx's timeouts apply to each read, so a server that trickles one byte a second never trips
them. A `Deadline` made active for an operation caps every read and write of the sockets of
clients built with `http_client()`, whatever the stage (headers, body, TLS), so a download, an
API call, a webhook post or a whole run stops on time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from batchledger.together.errors import TogetherTimeoutError


@dataclass(frozen=True)
class Deadline:
    """A point in time (monotonic clock) and what set it, for the error message."""

    at: float
    seconds: float
    label: str  # e.g. "the run time limit (BATCHLEDGER_RUN_TIMEOUT_SECONDS)"

    @classmethod
    def after(cls, seconds: float | None, label: str) -> Deadline:
        """`seconds` from now; None or inf is never."""
        if seconds is None or math.isinf(seconds):
            return NEVER
        return cls(time.monotonic() + seconds, seconds, label)

    @staticmethod
    def earliest(*deadlines: Deadline | None) -> Deadline:
        return min((d for d in deadlines if d is not None), key=lambda d: d.at, default=NEVER)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def error(self, doing: str) -> TogetherTimeoutError:
        return TogetherTimeoutError(f"{doing} stopped: {self.label} of {self.seconds:g} s ran out")

    def check(self, doing: str) -> None:
        if self.expired():
            raise self.error(doing)


NEVER = Deadline(math.inf, math.inf, "no time limit")

_ACTIVE: ContextVar[Deadline | None] = ContextVar("batchledger_deadline", default=None)


@contextmanager
def active(deadline: Deadline) -> Iterator[Deadline]:
    """Make `deadline` cap every socket operation in this thread (and context) until exit."""
    outer = _ACTIVE.get()
    token = _ACTIVE.set(Deadline.earliest(outer, deadline))
    try:
        yield deadline
    finally:
        _ACTIVE.reset(token)


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _ACTIVE.get()
    if deadline is None or math.isinf(deadline.at):
        return timeout
    remaining = deadline.remaining()
    if remaining <= 0:
        raise error(f"{deadline.label} ran out")
    return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, capped))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, capped, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, capped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def http_client(**kwargs: Any) -> httpx.Client:
    """An httpx.Client whose every transport (proxies from the environment too) obeys the
    active deadline. httpx offers no public hook for the network backend, so the pools of its
    (pinned) HTTPTransport are wrapped; a test fails loudly if a new httpx moves them."""
    client = httpx.Client(**kwargs)
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        if transport is None:
            continue
        if not isinstance(transport, httpx.HTTPTransport):
            raise TypeError(f"cannot bound the time of {type(transport).__name__}")
        pool = transport._pool
        if not isinstance(pool._network_backend, _Backend):
            pool._network_backend = _Backend(pool._network_backend)
    return client
