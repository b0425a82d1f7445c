"""Virtual clock: the scenario's "now" plus scaled real time plus explicit advances."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class VirtualClock:
    """Thread-safe virtual time.

    now = start + (real seconds since `run()` x time_scale) + sum(advance()).
    Before `run()` real time does not count, so a scenario can be inspected at its own "now".
    """

    def __init__(self, start: datetime, time_scale: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime")
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._start = start.astimezone(UTC)
        self._time_scale = time_scale
        self._advanced = 0.0
        self._real_anchor: float | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        """Start letting real time flow into virtual time (idempotent)."""
        with self._lock:
            if self._real_anchor is None:
                self._real_anchor = time.monotonic()

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the virtual clock only moves forward")
        with self._lock:
            self._advanced += seconds
        return self.now()

    def now(self) -> datetime:
        with self._lock:
            real = 0.0 if self._real_anchor is None else time.monotonic() - self._real_anchor
            offset = real * self._time_scale + self._advanced
        return self._start + timedelta(seconds=offset)
