"""One pass of `watch`: poll, ingest what ended, and deliver each alert exactly once.

Alerts: a job failed, expired or was cancelled; a job completed with failed or unprocessed items;
a budget in marts.budget_status crossed 80%, 95% or 100% of its month.

State lives in the ops store (`<db dir>/.ops/<db stem>/alerts.json`) and is rewritten after every
delivered alert, so a crash or restart never repeats an alert that went out nor drops one that
did not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx

from batchledger.ops.api import format_usd, open_client, short_id
from batchledger.ops.followup import FileSource, item_outcomes
from batchledger.ops.marts import BudgetFigures, budget_figures
from batchledger.settings import Settings
from batchledger.statuses import BAD_END_STATUSES, is_terminal, status_of
from batchledger.store import ops_dir, read_json_state, write_json_state
from batchledger.together import TogetherClient
from batchledger.together.deadline import Deadline, active, http_client
from batchledger.together.errors import TogetherError, TogetherTimeoutError
from batchledger.together.retry import Attempts, RetryPolicy

ALERTS_FILE = "alerts.json"
# Three attempts, 0.5-1 s then 1-2 s apart (tests make it wait nothing).
WEBHOOK_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0)
WEBHOOK_TIMEOUT = httpx.Timeout(10.0)
WEBHOOK_LIMIT_LABEL = "the webhook time limit (BATCHLEDGER_WEBHOOK_TIMEOUT_SECONDS)"
# Percent of a month's budget at which an alert goes out, once per month, scope and threshold.
BUDGET_THRESHOLDS = (80, 95, 100)

Alert = tuple[str, str]  # (key that makes it unique, text)


# What a pass tells as it goes (plain values; the CLI prints them).
@dataclass(frozen=True)
class IngestStarted:
    ended: int  # jobs that ended since the last pass


@dataclass(frozen=True)
class IngestFailed:
    error: str


@dataclass(frozen=True)
class AlertRaised:
    text: str


@dataclass(frozen=True)
class WebhookRefused:
    key: str  # the alert's key; it goes out again next pass


WatchEvent = IngestStarted | IngestFailed | AlertRaised | WebhookRefused
OnWatchEvent = Callable[[WatchEvent], None]


@dataclass
class PassResult:
    delivered: list[str] = field(default_factory=list)
    # Alerts the webhook did not take; they stay unsent and go out again next pass.
    undelivered: list[str] = field(default_factory=list)


def post_webhook(url: str, text: str, *, timeout_seconds: float = 60.0) -> bool:
    """Slack-compatible POST {"text": ...}; retries transport errors, 429 and 5xx, all within
    `timeout_seconds`, however slowly the receiver answers. The answer's body is never read."""
    deadline = Deadline.after(timeout_seconds, WEBHOOK_LIMIT_LABEL)
    attempts = Attempts(WEBHOOK_RETRY, deadline, "webhook delivery")
    with http_client(timeout=WEBHOOK_TIMEOUT) as client, active(deadline):
        while True:
            answer: httpx.Response | None = None
            try:
                with client.stream("POST", url, json={"text": text}) as response:
                    answer = response  # its status and headers; the body stays unread
            except httpx.HTTPError:
                pass
            if answer is not None and answer.is_success:
                return True
            try:
                if not attempts.again(answer):
                    return False  # refused (asking again will not help), or attempts spent
            except TogetherTimeoutError:
                return False  # the next wait would pass the webhook time limit


def _job_label(job: dict[str, Any]) -> str:
    return f"batch {short_id(str(job['id']))} ({job.get('model_id') or '?'})"


def alerts_for(
    jobs: list[dict[str, Any]], client: TogetherClient, settings: Settings, done: set[str]
) -> list[Alert]:
    """Alerts the jobs call for, skipping keys already in `done` (so files are read only once)."""
    alerts: list[Alert] = []
    files = FileSource(settings, client)
    try:
        for job in jobs:
            status = status_of(job)
            batch_id = str(job["id"])
            if status in BAD_END_STATUSES:
                key = f"{batch_id}:{status}"
                if key not in done:
                    reason = job.get("error")
                    text = f"{_job_label(job)} {status}" + (f": {reason}" if reason else "")
                    alerts.append((key, f"{text} (id {batch_id})"))
            elif status == "COMPLETED":
                key = f"{batch_id}:COMPLETED_WITH_FAILURES"
                if key in done or f"{batch_id}:checked" in done:
                    continue
                outcomes = item_outcomes(job, files)
                failed, missing = len(outcomes.failed), len(outcomes.not_processed)
                if failed or missing:
                    text = (
                        f"{_job_label(job)} COMPLETED with {failed} failed and {missing} "
                        f"unprocessed item(s) of {len(outcomes.inputs)}; "
                        f"`batchledger retry {batch_id}`"
                    )
                    alerts.append((key, text))
                else:
                    alerts.append((f"{batch_id}:checked", ""))  # clean: remember, say nothing
    finally:
        files.close()
    return alerts


def budget_alerts(budgets: list[BudgetFigures], done: set[str]) -> list[Alert]:
    """One alert per budget whose percent_used reached a threshold not alerted yet.

    A budget that jumps past several thresholds in one pass gets one alert, naming the highest;
    the lower ones are recorded as sent, so they never arrive late and out of order.
    """
    alerts: list[Alert] = []
    for budget in budgets:
        if budget.percent_used is None:
            continue  # a zero budget has no percent
        crossed = [t for t in BUDGET_THRESHOLDS if budget.percent_used >= t]
        keys = {
            t: f"budget:{budget.budget_month}:{budget.scope_key}={budget.scope_value}:{t}"
            for t in crossed
        }
        new = [t for t in crossed if keys[t] not in done]
        if not new:
            continue
        top = crossed[-1]
        alerts.extend((keys[t], "") for t in new if t != top)  # covered by the top one
        if top in new:
            forecast = (
                f"; month-end forecast {format_usd(budget.forecast_usd)}"
                if budget.forecast_usd is not None and budget.month_state == "open"
                else ""
            )
            text = (
                f"budget {budget.scope} {budget.budget_month} crossed {top}%: "
                f"{format_usd(budget.spent_usd)} of {format_usd(budget.budget_usd)} spent "
                # Truncated like the mart: 99.96% must not read as 100.0%.
                f"({budget.percent_used.quantize(Decimal('0.1'), ROUND_DOWN)}%){forecast}"
            )
            alerts.append((keys[top], text))
    return alerts


def run_pass(
    settings: Settings,
    *,
    notify: str | None,
    ingest: bool = True,
    on_event: OnWatchEvent | None = None,
) -> PassResult:
    """One poll; returns the texts of the alerts delivered, and of those the webhook refused."""
    told: OnWatchEvent = on_event or (lambda event: None)
    path = ops_dir(settings) / ALERTS_FILE
    state = read_json_state(path)
    sent: dict[str, str] = dict(state.get("sent") or {})
    seen: dict[str, str] = dict(state.get("statuses") or {})
    with open_client(settings) as client:
        jobs = client.list_batches()
        ended = [
            j for j in jobs if is_terminal(j) and seen.get(str(j["id"])) != str(j.get("status"))
        ]
        if ended and ingest:
            told(IngestStarted(len(ended)))
            error = _ingest(settings)
            if error is not None:
                told(IngestFailed(error))
        alerts = alerts_for(jobs, client, settings, set(sent))
    # After the ingest, so the budgets include what just ended; read every pass, so a
    # `--no-ingest` watch still alerts on what a separate ingest published.
    alerts += budget_alerts(budget_figures(settings.db_path), set(sent))
    result = PassResult()
    for key, text in alerts:
        if text:
            told(AlertRaised(text))
            timeout = settings.webhook_timeout_seconds
            if notify and not post_webhook(notify, text, timeout_seconds=timeout):
                told(WebhookRefused(key))
                result.undelivered.append(text)
                continue
            result.delivered.append(text)
        sent[key] = datetime.now(UTC).isoformat(timespec="seconds")
        write_json_state(path, {"sent": sent, "statuses": seen})
    seen.update({str(j["id"]): str(j.get("status")) for j in jobs})
    write_json_state(path, {"sent": sent, "statuses": seen})
    return result


def _ingest(settings: Settings) -> str | None:
    """Ingest what ended; the error's text when it failed."""
    from batchledger.ingest import IngestError, run_ingest
    from batchledger.warehouse import WarehouseBusyError

    try:
        run_ingest(settings, build=True)
    except (IngestError, WarehouseBusyError, TogetherError) as exc:
        # Alerts matter more than this ingest; the next transition or cron run retries it.
        return str(exc)
    return None
