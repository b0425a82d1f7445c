"""End to end against the emulator, with the real ingest (dlt, then `dbt build`, then publish).

One session-scoped flow, because each dbt build costs ~15-20 s: submit a tagged file with
--wait (ingest 1), retry it twice (a retry of a retry) and retry a demo job whose failed and
unprocessed items then succeed, then `watch --once` ingests what ended (ingest 2) and raises
the alerts, budgets included; a second pass finds nothing new. The tests read the published
warehouse it leaves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from batchledger.cli.ops import register
from batchledger.emulator import Emulator, demo_scenario
from batchledger.ops.watch import BUDGET_THRESHOLDS
from tests.conftest import TEST_API_KEY, make_settings
from tests.duck import dict_rows
from tests.ops.conftest import LLAMA, Receiver, point_env_at, request, write_jsonl

TAGS = {"team": "research", "project": "x"}


@dataclass(frozen=True)
class Flow:
    db_path: Path
    submit: dict[str, Any]
    parent: str
    child: str
    grandchild: str
    demo_root: str
    demo_child: str
    alerts: list[str]
    alerts_after_second_pass: list[str]


def _wait_until_ended(emulator: Emulator, batch_id: str) -> None:
    deadline = time.monotonic() + 60
    while not emulator.job(batch_id).is_terminal_at(emulator.now()):
        assert time.monotonic() < deadline, f"{batch_id} did not end"
        time.sleep(0.05)


@pytest.fixture(scope="session")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    tmp = tmp_path_factory.mktemp("e2e")
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def cli(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, (args, result.output, result.stderr)
        return result

    # 120 virtual seconds per real second: a small job (40 virtual s) ends in a third of a
    # second, and the whole flow stays on the demo's 2026-11-30.
    with (
        Emulator(scenario=demo_scenario(), api_key=TEST_API_KEY, time_scale=120.0) as emulator,
        pytest.MonkeyPatch.context() as monkeypatch,
        Receiver() as receiver,
    ):
        settings = point_env_at(monkeypatch, make_settings(tmp, emulator.base_url or ""))
        bad = request("bad-1", model="invalid/model")  # fails in every attempt
        tagged_by_metadata = {**request("r-2"), "metadata": {"team": "search"}}
        path = write_jsonl(tmp / "research.jsonl", [request("r-1"), tagged_by_metadata, bad])
        submitted = json.loads(
            cli(
                "submit", str(path), "--tag", "team=research", "--tag", "project=x",
                "--wait", "--yes", "--interval", "0.05", "--json",
            ).stdout
        )  # fmt: skip
        parent = submitted["batch_id"]

        def retry(batch_id: str, *options: str) -> str:
            out = tmp / f"retry-{batch_id}.jsonl"
            payload = json.loads(
                cli(
                    "retry", batch_id, *options, "-o", str(out), "--submit", "--yes", "--json"
                ).stdout
            )
            child = str(payload["submitted_batch_id"])
            _wait_until_ended(emulator, child)
            return child

        child = retry(parent)
        grandchild = retry(child)
        now = emulator.now()
        demo_root = next(j.batch_id for j in emulator.jobs() if j.status_at(now) == "CANCELLED")
        demo_child = retry(demo_root, "--include-not-processed")

        # Past the demo's running job's end (13:31), so the second pass finds nothing new.
        emulator.advance(2 * 3600)
        cli("watch", "--once", "--notify", receiver.url)
        alerts = list(receiver.texts)
        cli("watch", "--once", "--notify", receiver.url)
        yield Flow(
            db_path=settings.db_path,
            submit=submitted,
            parent=parent,
            child=child,
            grandchild=grandchild,
            demo_root=demo_root,
            demo_child=demo_child,
            alerts=alerts,
            alerts_after_second_pass=receiver.texts[len(alerts) :],
        )


@pytest.fixture
def con(flow: Flow) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(flow.db_path), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> dict[str, Any]:
    rows = dict_rows(con, sql, *params)
    assert len(rows) == 1, (sql, params, rows)
    return rows[0]


def test_submit_wait_ingests_and_prints_the_counts(flow: Flow) -> None:
    assert flow.submit["status"] == "COMPLETED" and flow.submit["tags"] == TAGS
    figures = flow.submit["figures"]
    assert (figures["items_succeeded"], figures["items_failed"]) == (2, 1)
    assert Decimal(figures["cost_usd"]) > 0


def test_tags_appear_in_cost_by_job(flow: Flow, con: duckdb.DuckDBPyConnection) -> None:
    job = one(con, "select * from marts.cost_by_job where batch_id = ?", flow.parent)
    assert job["tags"] == TAGS
    assert (job["model"], job["items_total"], job["items_failed"]) == (LLAMA, 3, 1)
    # A retry inherits its parent's tags.
    child = one(con, "select tags from marts.cost_by_job where batch_id = ?", flow.child)
    assert child["tags"] == TAGS


def test_tags_appear_in_cost_by_cohort(flow: Flow, con: duckdb.DuckDBPyConnection) -> None:
    cohorts = {
        (item["custom_id"]): item["cohort"]
        for item in (
            dict(zip(("custom_id", "cohort"), row, strict=True))
            for row in con.execute(
                "select custom_id, cohort from marts.fct_batch_items where batch_id = ?",
                [flow.parent],
            ).fetchall()
        )
    }
    # Batch tags apply to every item; the item's own metadata wins (r-2 is search's).
    assert cohorts == {
        "r-1": {"team": "research", "project": "x"},
        "r-2": {"team": "search", "project": "x"},
        "bad-1": {"team": "research", "project": "x"},
    }
    # research: r-1 and bad-1 of the parent, bad-1 of each retry; project x: all five items.
    for key, value, items in (("team", "research", 4), ("project", "x", 5)):
        row = one(
            con,
            "select * from marts.cost_by_cohort where usage_month = date '2026-11-01'"
            " and cohort_key = ? and cohort_value = ?",
            key,
            value,
        )
        assert (row["items_total"], row["jobs"]) == (items, 3), (key, value)
    research = one(
        con,
        "select cost_usd from marts.cost_by_cohort where cohort_key = 'team'"
        " and cohort_value = 'research'",
    )
    r1 = one(
        con,
        "select cost_usd from marts.fct_batch_items where batch_id = ? and custom_id = 'r-1'",
        flow.parent,
    )
    assert research["cost_usd"] == r1["cost_usd"] > 0  # bad-1 is unpriced, never $0


def test_retry_lineage_in_cost_by_job(flow: Flow, con: duckdb.DuckDBPyConnection) -> None:
    found = {
        row[0]: row[1:]
        for row in con.execute(
            "select batch_id, parent_batch_id, root_batch_id, retry_depth from marts.cost_by_job"
            " where root_batch_id in (?, ?)",
            [flow.parent, flow.demo_root],
        ).fetchall()
    }
    assert found == {
        flow.parent: (None, flow.parent, 0),
        flow.child: (flow.parent, flow.parent, 1),
        flow.grandchild: (flow.child, flow.parent, 2),
        flow.demo_root: (None, flow.demo_root, 0),
        flow.demo_child: (flow.demo_root, flow.demo_root, 1),
    }


def test_logical_job_adds_parent_and_retries(flow: Flow, con: duckdb.DuckDBPyConnection) -> None:
    logical = one(
        con, "select * from marts.cost_by_logical_job where root_batch_id = ?", flow.parent
    )
    jobs = {
        row[0]: row[1:]
        for row in con.execute(
            "select batch_id, items_total, total_tokens, cost_usd from marts.cost_by_job"
            " where root_batch_id = ?",
            [flow.parent],
        ).fetchall()
    }
    assert set(jobs) == {flow.parent, flow.child, flow.grandchild}
    # bad-1 failed three times: one logical item, failed; r-1 and r-2 succeeded once.
    assert (logical["jobs"], logical["items_total"], logical["items_attempted"]) == (3, 3, 5)
    assert (logical["items_succeeded"], logical["items_failed"]) == (2, 1)
    assert logical["latest_batch_id"] == flow.grandchild and logical["tags"] == TAGS
    assert logical["total_tokens"] == sum(j[1] for j in jobs.values())
    assert logical["cost_usd"] == jobs[flow.parent][2]  # the retries' items are unpriced
    retries = con.execute(
        "select count(*) from marts.cost_by_logical_job where root_batch_id in (?, ?)",
        [flow.child, flow.grandchild],
    ).fetchone()
    assert retries == (0,)


def test_a_retry_that_succeeds_counts_each_item_once(
    flow: Flow, con: duckdb.DuckDBPyConnection
) -> None:
    root = one(con, "select * from marts.cost_by_job where batch_id = ?", flow.demo_root)
    child = one(con, "select * from marts.cost_by_job where batch_id = ?", flow.demo_child)
    assert root["items_failed"] > 0 and root["items_not_processed"] > 0
    retried = root["items_failed"] + root["items_not_processed"]
    assert (child["items_total"], child["items_succeeded"]) == (retried, retried)
    logical = one(
        con, "select * from marts.cost_by_logical_job where root_batch_id = ?", flow.demo_root
    )
    assert logical["items_total"] == root["items_total"]
    assert logical["items_succeeded"] == root["items_total"]
    assert (logical["items_failed"], logical["items_not_processed"]) == (0, 0)
    assert logical["items_attempted"] == root["items_total"] + retried
    # Every attempt is billed.
    assert logical["cost_usd"] == root["cost_usd"] + child["cost_usd"]
    assert logical["retry_cost_usd"] == child["cost_usd"] > 0


def test_watch_alerts_budgets_from_the_real_mart_once(
    flow: Flow, con: duckdb.DuckDBPyConnection
) -> None:
    budgets = con.execute(
        "select strftime(budget_month, '%Y-%m'), scope_key, scope_value, percent_used "
        "from marts.budget_status"
    ).fetchall()
    expected = set()
    for month, key, value, percent in budgets:
        crossed = [t for t in BUDGET_THRESHOLDS if percent is not None and percent >= t]
        if crossed:
            scope = "total" if key == "all" else f"{key}={value}"
            expected.add(f"budget {scope} {month} crossed {crossed[-1]}%")
    assert expected  # the shipped demo budgets cross thresholds
    found = [text.split(":")[0] for text in flow.alerts if text.startswith("budget ")]
    assert sorted(found) == sorted(expected)
    assert any(
        flow.parent[:8] in text and "COMPLETED with 1 failed" in text for text in flow.alerts
    )
    assert flow.alerts_after_second_pass == []
