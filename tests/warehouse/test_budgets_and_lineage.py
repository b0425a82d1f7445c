"""budget_status and cost_by_logical_job over real builds: the demo ingest and the raw fixture."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

import duckdb

from batchledger.emulator import DEMO_NOW
from tests.duck import dict_rows

from .conftest import DBT_PROJECT_DIR

SCALE = Decimal("0.000000000001")


def expected_spent(con: duckdb.DuckDBPyConnection, budget: dict[str, object]) -> Decimal:
    if budget["scope_key"] == "all":
        sql = "select sum(cost_usd) from marts.cost_by_month where usage_month = ?"
        params = [budget["usage_month"]]
    elif budget["scope_key"] == "model":
        sql = "select sum(cost_usd) from marts.cost_by_month where usage_month = ? and model = ?"
        params = [budget["usage_month"], budget["scope_value"]]
    else:
        sql = (
            "select sum(cost_usd) from marts.cost_by_cohort"
            " where usage_month = ? and cohort_key = ? and cohort_value = ?"
        )
        params = [budget["usage_month"], budget["scope_key"], budget["scope_value"]]
    found = con.execute(sql, params).fetchone()
    assert found is not None
    return found[0] or Decimal(0)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1)
    end = datetime(year + number // 12, number % 12 + 1, 1)
    return start, end


def test_shipped_budgets_use_text_months() -> None:
    with (DBT_PROJECT_DIR / "seeds" / "budgets.csv").open(newline="") as seed:
        months = [row["month"] for row in csv.DictReader(seed)]
    assert months and all(re.fullmatch(r"\d{4}-\d{2}", month) for month in months)


def test_demo_budget_status_reconciles_and_forecasts(demo_con: duckdb.DuckDBPyConnection) -> None:
    budgets = dict_rows(demo_con, "select * from marts.budget_status")
    # Months are DATEs (first day) in every mart, budget_status included.
    assert all(isinstance(b["budget_month"], date) for b in budgets)
    for budget in budgets:
        budget["budget_month"] = budget["budget_month"].strftime("%Y-%m")
    found = demo_con.execute("select max(used_at) from marts.fct_batch_items").fetchone()
    assert found is not None
    as_of = found[0]
    assert as_of.date() == DEMO_NOW.date()  # the demo's own clock
    assert {(b["budget_month"], b["month_state"]) for b in budgets} == {
        ("2026-10", "closed"),
        ("2026-11", "open"),
    }
    for budget in budgets:
        key = (budget["budget_month"], budget["scope_key"], budget["scope_value"])
        spent = expected_spent(demo_con, budget)
        assert budget["spent_usd"] == spent, key
        assert budget["as_of_at"] == as_of
        percent = (100 * spent / budget["budget_usd"]).quantize(Decimal("0.000001"), ROUND_DOWN)
        assert budget["percent_used"] == percent, key
        start, end = month_bounds(str(budget["budget_month"]))
        if budget["month_state"] == "closed":
            assert budget["forecast_usd"] == spent, key
        else:
            month_seconds = int((end - start).total_seconds())
            elapsed = int((as_of - start).total_seconds())
            scaled = int(spent / SCALE) * month_seconds // elapsed
            assert budget["forecast_usd"] == Decimal(scaled) * SCALE, key
            assert budget["forecast_usd"] > spent
    # The shipped demo budgets show each state an alert can report.
    percents = {(b["budget_month"], b["scope_key"], b["scope_value"]): b for b in budgets}
    assert percents[("2026-11", "team", "search")]["percent_used"] > 100
    assert 95 <= percents[("2026-10", "all", "all")]["percent_used"] < 100
    assert percents[("2026-11", "team", "support")]["percent_used"] < 80


def test_fixture_budgets_count_dedicated_jobs_and_the_idle_remainder(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # The raw fixture's usage ends on 2026-11-12 with its dedicated jobs: October 2026 is
    # closed with nothing spent, November open with the dedicated window's 80.64 USD in
    # `all`, job ded-a's share under team search, and the idle remainder under its own value.
    budgets = {
        (b["budget_month"].strftime("%Y-%m"), b["scope_key"], b["scope_value"]): b
        for b in dict_rows(con, "select * from marts.budget_status")
    }
    assert budgets
    for (month, _, _), budget in budgets.items():
        if month == "2026-10":
            assert budget["month_state"] == "closed"
            assert budget["spent_usd"] == budget["forecast_usd"] == 0
        else:
            assert budget["month_state"] == "open"
    spent = {key: b["spent_usd"] for key, b in budgets.items() if key[0] == "2026-11"}
    assert spent == {
        ("2026-11", "all", "all"): Decimal("80.64"),
        ("2026-11", "team", "search"): Decimal("6.757304113401"),
        ("2026-11", "team", "support"): 0,
        ("2026-11", "model", "deepseek-ai/DeepSeek-V4.1-Flash"): 0,
        ("2026-11", "team", "(dedicated idle)"): Decimal("68.866933333334"),
    }


def test_without_retries_each_job_is_its_own_logical_job(con: duckdb.DuckDBPyConnection) -> None:
    jobs = {row["batch_id"]: row for row in dict_rows(con, "select * from marts.cost_by_job")}
    logical = {
        row["root_batch_id"]: row
        for row in dict_rows(con, "select * from marts.cost_by_logical_job")
    }
    assert set(logical) == set(jobs)
    for batch_id, job in jobs.items():
        assert (job["parent_batch_id"], job["root_batch_id"], job["retry_depth"]) == (
            None,
            batch_id,
            0,
        )
        row = logical[batch_id]
        # Never retried: the retries cost 0, not null (null means unpriced).
        assert row["jobs"] == 1 and row["retry_cost_usd"] == 0
        for column in (
            "items_total",
            "items_succeeded",
            "items_failed",
            "items_not_processed",
            "items_pending",
            "total_tokens",
            "cost_usd",
            "tags",
        ):
            assert row[column] == job[column], (batch_id, column)
