"""Retry policy: which answers are worth another attempt, and how long to wait before it."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import httpx

# 408 timeout, 429 rate limit and every 5xx are transient on Together's side (the v3 SDK agrees).
RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # Never wait longer than this for a Retry-After, so a hostile header cannot hang a cron job.
    max_retry_after: float = 60.0
    # Seconds of waiting between the attempts of one request, all told; then it gives up.
    max_total_wait: float = 180.0

    def should_retry(self, response: httpx.Response) -> bool:
        hint = response.headers.get("x-should-retry")
        if hint is not None:
            return bool(hint.lower() == "true")
        return response.status_code in RETRYABLE_STATUS or response.status_code >= 500

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempts count from 1)."""
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Full jitter spreads many clients that failed together.
        return random.uniform(backoff / 2, backoff)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
