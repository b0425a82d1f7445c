"""Shared plumbing for the ops commands: the client, job status helpers and formatting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from batchledger.settings import Settings
from batchledger.together import TogetherClient
from batchledger.together.errors import TogetherAuthError
from batchledger.together.retry import RetryPolicy

# Module-level so tests can shorten the retries against a dead port.
RETRY_POLICY = RetryPolicy()


def open_client(settings: Settings) -> TogetherClient:
    """A client for the real API: ops commands never fall back to the demo emulator."""
    if not settings.api_key:
        raise TogetherAuthError("No API key: set TOGETHER_API_KEY (ops commands need the real API)")
    return TogetherClient(
        settings.api_key,
        settings.base_url,
        retry=RETRY_POLICY,
        limits=settings.client_limits(),
        deadline=settings.run_deadline(),
    )


def short_id(batch_id: str) -> str:
    return batch_id[:8]


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_age(created_at: Any, now: datetime | None = None) -> str:
    created = parse_time(created_at)
    if created is None:
        return "?"
    seconds = max(0, int(((now or datetime.now(UTC)) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def progress_of(job: dict[str, Any]) -> float:
    """Together reports progress as a percentage; clamp whatever arrives to 0..100."""
    try:
        value = float(job.get("progress") or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return min(100.0, max(0.0, value))


def progress_bar(percent: float, width: int = 20) -> str:
    filled = round(width * percent / 100)
    return "█" * filled + "░" * (width - filled) + f" {percent:5.1f}%"


def format_usd(value: Decimal) -> str:
    """Dollars for people: cents from $100 up; below, six places, since one batch item often
    costs a fraction of a cent. Formatting a Decimal never goes through a float."""
    return f"${value:,.2f}" if abs(value) >= 100 else f"${value:,.6f}"
