"""Fault switches tests flip at runtime to exercise the client's retry and resume paths."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    """All off by default. Counters are "the next N matching requests" and count down.

    Faults apply to /v1 requests whose path contains `only_paths` (all /v1 paths when None).
    """

    rate_limit_burst: int = 0
    retry_after_seconds: float = 1.0
    server_errors: int = 0
    slow_seconds: float = 0.0
    # Content downloads that send the full Content-Length, then `reset_after_bytes`, then drop.
    reset_downloads: int = 0
    reset_after_bytes: int = 512
    # Output files generated while this is on get one truncated JSON line (at line 3).
    malformed_output_line: bool = False
    only_paths: str | None = None
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def applies_to(self, path: str) -> bool:
        return self.only_paths is None or self.only_paths in path

    def take(self, counter: str) -> bool:
        """Atomically consume one unit of a countdown fault; False when it is exhausted."""
        with self._lock:
            remaining = getattr(self, counter)
            if remaining <= 0:
                return False
            setattr(self, counter, remaining - 1)
            return True

    def update(self, values: dict[str, Any]) -> None:
        """Set fields from a JSON object (the /_emulator/faults control endpoint)."""
        known = {f.name: f for f in dataclasses.fields(self) if f.init}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        with self._lock:
            for name, value in values.items():
                setattr(self, name, _coerce(name, value))

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}


_INT_FIELDS = {"rate_limit_burst", "server_errors", "reset_downloads", "reset_after_bytes"}
_FLOAT_FIELDS = {"retry_after_seconds", "slow_seconds"}


def _coerce(name: str, value: Any) -> Any:
    if name in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
        return value
    if name in _FLOAT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
        return float(value)
    if name == "malformed_output_line":
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a boolean")
        return value
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null")
    return value
