"""Strip the API key, and any bearer token, from text a server sent us.

A hostile or buggy server can echo our Authorization header in an error body or a JSON field;
that text must not reach an exception, a log line, the warehouse or dlt's trace.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s\"'<>,;]+")


class Redactor:
    def __init__(self, *secrets: str) -> None:
        # Short strings would mask ordinary words; a real key is long.
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)
        self._needles = [s.encode() for s in self._secrets]

    def contains_secret(self, raw: bytes) -> bool:
        return any(needle in raw for needle in self._needles)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        return _BEARER.sub(f"Bearer {MASK}", value)

    def json(self, value: Any) -> Any:
        """The same JSON value with every string (keys included) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        return value
