"""The marts over a real `batchledger ingest` of the emulator's demo equal a Decimal computation.

The expected totals come from the emulator's scenario (its ground truth) and
prices/model_prices.csv alone: per job, per month and model, per cohort.
"""

from __future__ import annotations

import duckdb
import pytest

from batchledger.emulator import demo_scenario
from batchledger.emulator.demo import LABELER_FT

from .conftest import PRICE_CSV
from .expected import (
    Item,
    Totals,
    add_idle_to_cohorts,
    assert_totals,
    demo_dedicated_lines,
    expected_demo_items,
    idle_by_month,
    rows,
    totals_by,
    totals_by_cohort,
)


@pytest.fixture(scope="module")
def demo_items() -> dict[tuple[str, str], Item]:
    return expected_demo_items(demo_scenario(), PRICE_CSV)


def test_demo_items_equal_the_scenario(
    demo_con: duckdb.DuckDBPyConnection, demo_items: dict[tuple[str, str], Item]
) -> None:
    found = {
        (row["batch_id"], row["custom_id"]): row
        for row in rows(demo_con, "select * from marts.fct_batch_items")
    }
    assert set(found) == set(demo_items)
    for key, item in demo_items.items():
        row = found[key]
        assert (row["item_status"], row["model"], row["used_at"]) == (
            item.status,
            item.model,
            item.used_at,
        ), key
        assert (row["prompt_tokens"], row["cached_prompt_tokens"], row["completion_tokens"]) == (
            item.prompt_tokens,
            item.cached_prompt_tokens,
            item.completion_tokens,
        ), key
        assert (row["cost_usd"], row["realtime_cost_usd"], row["cohort"]) == (
            item.cost_usd,
            item.realtime_cost_usd,
            item.cohort,
        ), key


def test_demo_cost_by_job(
    demo_con: duckdb.DuckDBPyConnection, demo_items: dict[tuple[str, str], Item]
) -> None:
    expected = totals_by(demo_items.values(), lambda item: item.batch_id)
    found = {row["batch_id"]: row for row in rows(demo_con, "select * from marts.cost_by_job")}
    assert set(found) == {job.batch_id for job in demo_scenario().jobs}
    for batch_id, row in found.items():
        assert_totals(row, expected.get(batch_id, Totals()), batch_id)


def test_demo_cost_by_month_and_model(
    demo_con: duckdb.DuckDBPyConnection, demo_items: dict[tuple[str, str], Item]
) -> None:
    expected = totals_by(demo_items.values(), lambda item: (item.usage_month, item.model))
    found = {
        (row["usage_month"], row["model"]): row
        for row in rows(demo_con, "select * from marts.cost_by_month where charge_kind = 'usage'")
    }
    assert set(found) == set(expected)
    for key, row in found.items():
        assert_totals(row, expected[key], key)
    # The dedicated endpoints' idle remainders: the job's window and the idle endpoint's.
    idle = idle_by_month(demo_dedicated_lines(dict(demo_items), demo_scenario(), PRICE_CSV))
    found_idle = {
        (month, model): cost
        for month, model, cost in demo_con.execute(
            "select usage_month, model, cost_usd from marts.cost_by_month "
            "where charge_kind = 'dedicated_idle'"
        ).fetchall()
    }
    assert found_idle == idle and len(idle) == 2


def test_demo_cost_by_cohort(
    demo_con: duckdb.DuckDBPyConnection, demo_items: dict[tuple[str, str], Item]
) -> None:
    expected = totals_by_cohort(list(demo_items.values()))
    idle = idle_by_month(demo_dedicated_lines(dict(demo_items), demo_scenario(), PRICE_CSV))
    add_idle_to_cohorts(expected, idle)
    found = {
        (row["usage_month"], row["cohort_key"], row["cohort_value"]): row
        for row in rows(demo_con, "select * from marts.cost_by_cohort")
    }
    assert set(found) == set(expected)
    for key, row in found.items():
        assert_totals(row, expected[key], key)


def test_demo_unpriced_models_are_listed(demo_con: duckdb.DuckDBPyConnection) -> None:
    listed = demo_con.execute("select model from audit.assert_all_items_priced").fetchall()
    assert listed == [(LABELER_FT,)]
