"""watch: three passes, one webhook receiver, every alert delivered exactly once."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from batchledger.emulator import Emulator
from batchledger.ops import watch
from batchledger.settings import Settings
from batchledger.store import ops_dir
from tests.ops.conftest import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(fail_first=1) as found:  # the first POST fails: delivery must retry
        yield found


def expected_alerts(emulator: Emulator) -> set[str]:
    now = emulator.now()
    keys = set()
    for job in emulator.jobs():
        status = job.status_at(now)
        if status in ("FAILED", "EXPIRED", "CANCELLED"):
            keys.add(f"{job.batch_id[:8]} ({job.model_id}) {status}")
        elif status == "COMPLETED" and any(i.outcome != "succeeded" for i in job.items):
            keys.add(f"{job.batch_id[:8]} ({job.model_id}) COMPLETED with")
    return keys


def test_three_passes_send_each_alert_exactly_once(
    cli: Any, ops_settings: Settings, emulator: Emulator, receiver: Receiver
) -> None:
    first = cli("watch", "--once", "--no-ingest", "--notify", receiver.url)
    assert first.exit_code == 0, first.stderr
    # Between passes the running job is cancelled: one new alert, nothing repeated.
    running = next(j for j in emulator.jobs() if j.status_at(emulator.now()) == "IN_PROGRESS")
    assert cli("cancel", running.batch_id).exit_code == 0
    emulator.advance(60)
    for _ in range(2):
        again = cli("watch", "--once", "--no-ingest", "--notify", receiver.url)
        assert again.exit_code == 0, again.stderr

    counts = Counter(receiver.texts)
    assert all(n == 1 for n in counts.values()), counts
    expected = expected_alerts(emulator)
    assert len(receiver.texts) == len(expected)
    for prefix in expected:
        assert sum(prefix in text for text in receiver.texts) == 1, prefix
    assert any(f"{running.batch_id[:8]}" in text and "CANCELLED" in text for text in counts)


def test_watch_ingests_when_jobs_end(
    cli: Any, ops_settings: Settings, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Settings] = []
    monkeypatch.setattr(watch, "_ingest", lambda settings: calls.append(settings))
    first = cli("watch", "--once")
    assert first.exit_code == 0
    ended = re.search(r"(\d+) job\(s\) ended since the last pass: ingesting", first.stdout)
    assert ended and int(ended.group(1)) > 0
    assert cli("watch", "--once").exit_code == 0  # nothing ended since: no second ingest
    assert len(calls) == 1


def test_a_failed_ingest_is_a_warning_and_alerts_still_go_out(
    cli: Any, ops_settings: Settings, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchledger import ingest

    def refused(settings: Settings, **kwargs: Any) -> None:
        raise ingest.IngestError("the warehouse file is not a DuckDB database")

    monkeypatch.setattr(ingest, "run_ingest", refused)
    result = cli("watch", "--once")
    assert result.exit_code == 0
    assert "warning: ingest failed: the warehouse file is not a DuckDB database" in result.stdout
    assert "ALERT" in result.stdout  # the emulator's failed and expired jobs


def test_undelivered_alerts_are_retried_next_pass(
    cli: Any, ops_settings: Settings, emulator: Emulator
) -> None:
    dead = "http://127.0.0.1:9/hook"
    first = cli("watch", "--once", "--no-ingest", "--notify", dead)
    # A cron job must notice: undelivered alerts are a failed pass (and are sent next pass).
    assert first.exit_code == 1 and "webhook delivery failed" in first.stdout
    assert "could not be delivered to the webhook" in first.stderr
    state = json.loads((ops_dir(ops_settings) / "alerts.json").read_text())
    assert not [k for k in state["sent"] if not k.endswith(":checked")]


def test_watch_with_wrong_key_is_one_line(
    cli: Any, ops_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "wrong")
    result = cli("watch", "--once")
    assert result.exit_code == 3 and len(result.stderr.strip().splitlines()) == 1


def publish_budgets(db_path: Path, percents: dict[tuple[str, str], str]) -> None:
    """A published warehouse whose marts.budget_status has the given percents (budget $100)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path))
    try:
        con.execute("create schema if not exists marts")
        con.execute(
            """
            create or replace table marts.budget_status (
                budget_month varchar, scope_key varchar, scope_value varchar,
                budget_usd decimal(38, 18), spent_usd decimal(38, 18),
                percent_used decimal(18, 6), forecast_usd decimal(38, 18), month_state varchar
            )
            """
        )
        for (scope_key, scope_value), percent in percents.items():
            con.execute(
                "insert into marts.budget_status values ('2026-11', ?, ?, 100, ?, ?, ?, 'open')",
                [scope_key, scope_value, Decimal(percent), Decimal(percent), Decimal(percent) * 2],
            )
    finally:
        con.close()


def test_budget_alerts_fire_once_per_threshold_over_passes(
    cli: Any, ops_settings: Settings, emulator: Emulator, receiver: Receiver
) -> None:
    search, total = ("team", "search"), ("all", "all")
    passes = [
        {search: "50", total: "0"},
        {search: "79.999999", total: "0"},  # truncated percents never alert early
        {search: "80", total: "120"},  # total jumps past every threshold: one alert
        {search: "94.5", total: "120"},
        {search: "95.2", total: "120"},
        {search: "101", total: "130"},
        {search: "101", total: "130"},
    ]
    budget_texts: list[list[str]] = []
    for percents in passes:
        publish_budgets(ops_settings.db_path, percents)
        before = len(receiver.texts)
        result = cli("watch", "--once", "--no-ingest", "--notify", receiver.url)
        assert result.exit_code == 0, result.stderr
        budget_texts.append([t for t in receiver.texts[before:] if t.startswith("budget ")])

    assert [[t.split(":")[0] for t in texts] for texts in budget_texts] == [
        [],
        [],
        ["budget total 2026-11 crossed 100%", "budget team=search 2026-11 crossed 80%"],
        [],
        ["budget team=search 2026-11 crossed 95%"],
        ["budget team=search 2026-11 crossed 100%"],
        [],
    ]
    assert budget_texts[2][1] == (
        "budget team=search 2026-11 crossed 80%: $80.000000 of $100.00 spent (80.0%); "
        "month-end forecast $160.00"
    )
    sent = json.loads((ops_dir(ops_settings) / "alerts.json").read_text())["sent"]
    assert {k for k in sent if k.startswith("budget:2026-11:all=all:")} == {
        f"budget:2026-11:all=all:{t}" for t in (80, 95, 100)
    }
