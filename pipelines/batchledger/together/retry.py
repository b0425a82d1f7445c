"""Retrying: which answers are worth another attempt, how long to wait before it (RetryPolicy),
and the budget of one operation's attempts (Attempts)."""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from batchledger.together.deadline import Deadline

log = logging.getLogger(__name__)

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


class Attempts:
    """The retry budget of one operation: attempts, total waiting, and its deadline.

    The one retry loop of batchledger: an API call, a download, an upload and a webhook post
    each make one per operation and ask `again` after every failed attempt."""

    def __init__(
        self,
        policy: RetryPolicy,
        deadline: Deadline,
        what: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.deadline = deadline
        self.what = what
        self.sleep = sleep
        self.number = 1
        self.waited = 0.0

    def again(self, response: httpx.Response | None) -> bool:
        """Wait and return True if another attempt is due; False when it is not worth one (the
        answer is final, or attempts or waiting are spent). Raises if the deadline would pass.
        `response` is None after a connection error or a broken transfer."""
        policy = self.policy
        if response is not None and not policy.should_retry(response):
            return False
        if self.number >= policy.max_attempts:
            return False
        delay = policy.delay(self.number, response)
        if self.waited + delay > policy.max_total_wait:
            log.warning("%s: not retrying, it would wait %.0f s in all", self.what, delay)
            return False
        if delay >= self.deadline.remaining():
            raise self.deadline.error(f"{self.what} (asked to wait {delay:.0f} s)")
        status = response.status_code if response is not None else "connection error"
        log.info("%s: %s, retry %d in %.1fs", self.what, status, self.number, delay)
        self.sleep(delay)
        self.waited += delay
        self.number += 1
        return True
