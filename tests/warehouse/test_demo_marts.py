"""The marts over a real `batchledger ingest` of the emulator's demo equal a Decimal computation.

The expected totals come from the emulator's scenario (its ground truth) and
prices/model_prices.csv alone: per job, per month and model, per cohort.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, Decimal

import duckdb
import pytest

from batchledger.emulator import demo_scenario
from batchledger.emulator.demo import LABELER_FT, LLAMA_8B, WHISPER
from tests.duck import dict_rows

from .conftest import PRICE_CSV, REPO_ROOT
from .expected import (
    Item,
    Totals,
    add_idle_to_cohorts,
    assert_totals,
    demo_dedicated_lines,
    expected_demo_items,
    idle_by_month,
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
        for row in dict_rows(demo_con, "select * from marts.fct_batch_items")
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
        assert row["audio_seconds"] == item.audio_seconds, key


def test_demo_cost_by_job(
    demo_con: duckdb.DuckDBPyConnection, demo_items: dict[tuple[str, str], Item]
) -> None:
    expected = totals_by(demo_items.values(), lambda item: item.batch_id)
    found = {row["batch_id"]: row for row in dict_rows(demo_con, "select * from marts.cost_by_job")}
    assert set(found) == {job.batch_id for job in demo_scenario().jobs}
    for batch_id, row in found.items():
        assert_totals(row, expected.get(batch_id, Totals()), batch_id)


def test_demo_cost_by_month_and_model(
    demo_con: duckdb.DuckDBPyConnection, demo_items: dict[tuple[str, str], Item]
) -> None:
    expected = totals_by(demo_items.values(), lambda item: (item.usage_month, item.model))
    found = {
        (row["usage_month"], row["model"]): row
        for row in dict_rows(
            demo_con, "select * from marts.cost_by_month where charge_kind = 'usage'"
        )
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
        for row in dict_rows(demo_con, "select * from marts.cost_by_cohort")
    }
    assert set(found) == set(expected)
    for key, row in found.items():
        assert_totals(row, expected[key], key)


def test_demo_unpriced_models_are_listed(demo_con: duckdb.DuckDBPyConnection) -> None:
    listed = demo_con.execute("select model from audit.assert_all_items_priced").fetchall()
    assert listed == [(LABELER_FT,)]


def test_demo_audio_job_is_priced_per_minute_of_audio(demo_con: duckdb.DuckDBPyConnection) -> None:
    """The Whisper job: each verbose_json item costs its reported seconds at the batch rate
    per minute (0.00075 USD, half the 0.0015 serverless rate), with no tokens; the two json
    items report no duration and are unpriced and flagged, never $0."""
    (job,) = [job for job in demo_scenario().jobs if job.model_id == WHISPER]
    found = {
        row["custom_id"]: row
        for row in dict_rows(
            demo_con, f"select * from marts.fct_batch_items where batch_id = '{job.batch_id}'"
        )
    }
    assert len(found) == 20
    priced = {
        item.custom_id: item.audio_duration
        for item in job.items
        if item.outcome == "succeeded" and item.audio_duration is not None
    }
    assert len(priced) == 17
    for custom_id, seconds in priced.items():
        row = found[custom_id]
        assert seconds is not None
        # Hand computation: seconds x USD per minute / 60, truncated to 18 places.
        cost = (seconds * Decimal("0.00075") / 60).quantize(Decimal("1e-18"), ROUND_DOWN)
        realtime = (seconds * Decimal("0.0015") / 60).quantize(Decimal("1e-18"), ROUND_DOWN)
        assert (row["audio_seconds"], row["pricing_mode_applied"]) == (seconds, "batch")
        assert (row["cost_usd"], row["audio_cost_usd"], row["realtime_cost_usd"]) == (
            cost,
            cost,
            realtime,
        ), custom_id
        assert (row["total_tokens"], row["input_cost_usd"], row["output_cost_usd"]) == (0, 0, 0)
    unpriced = [row for row in found.values() if not row["is_priced"]]
    assert sorted(row["custom_id"] for row in unpriced) == ["ct1-00003", "ct1-00004"]
    for row in unpriced:
        assert row["cost_usd"] is None and row["item_status"] == "succeeded"
        assert "verbose_json" in row["usage_issue"]
    flags = demo_con.execute(
        "select count(*) from marts.data_quality_issues "
        f"where batch_id = '{job.batch_id}' and issue = 'missing_audio_duration'"
    ).fetchone()
    assert flags == (2,)
    (by_job,) = dict_rows(
        demo_con, f"select * from marts.cost_by_job where batch_id = '{job.batch_id}'"
    )
    total = sum(priced.values(), Decimal(0))
    assert by_job["audio_seconds"] == total and by_job["unpriced_items"] == 2
    assert (
        by_job["cost_usd"]
        == by_job["audio_cost_usd"]
        == sum((row["cost_usd"] for row in found.values() if row["is_priced"]), Decimal(0))
    )
    # FOCUS: one Audio Seconds meter per day, per second at 0.00075 / 60, exactly.
    focus = dict_rows(
        demo_con,
        'select * from marts.focus_charges where "ResourceId" = ' + f"'{job.batch_id}'",
    )
    assert {row["SkuMeter"] for row in focus} == {"Audio Seconds"}
    assert sum(row["ConsumedQuantity"] for row in focus) == total
    for row in focus:
        assert row["ContractedUnitPrice"] == Decimal("0.0000125")
        assert row["ListUnitPrice"] == Decimal("0.000025")
        assert row["ContractedUnitPrice"] * row["PricingQuantity"] == row["BilledCost"]
        assert row["ListUnitPrice"] * row["PricingQuantity"] == row["ListCost"]


def test_demo_shows_a_batch_discount_ending(demo_con: duckdb.DuckDBPyConnection) -> None:
    """The Llama 3.1 8B job ran across midnight into 2026-11-28, the day its launch discount
    was first seen gone (prices/model_prices.csv ends its batch row there): the requests done
    on 2026-11-27 bill at the batch rate (0.09 USD per million tokens), those of 2026-11-28 at
    the standard rate (0.18), and the marts show the same model in both modes."""
    (job,) = [job for job in demo_scenario().jobs if job.model_id == LLAMA_8B]
    found = {
        row["custom_id"]: row
        for row in dict_rows(
            demo_con, f"select * from marts.fct_batch_items where batch_id = '{job.batch_id}'"
        )
    }
    end = date(2026, 11, 28)
    days = {date(2026, 11, 27): ("batch", Decimal("0.09")), end: ("serverless", Decimal("0.18"))}
    seen = set()
    for item in job.items:
        row = found[item.custom_id]
        assert item.prompt_tokens is not None and item.completion_tokens is not None
        mode, rate = days[row["used_at"].date()]
        seen.add(mode)
        # Hand computation: tokens x USD per million tokens.
        cost = (item.prompt_tokens + item.completion_tokens) * rate / 1_000_000
        realtime = (item.prompt_tokens + item.completion_tokens) * Decimal("0.18") / 1_000_000
        assert (row["pricing_mode_applied"], row["cost_usd"], row["realtime_cost_usd"]) == (
            mode,
            cost,
            realtime,
        ), item.custom_id
    assert seen == {"batch", "serverless"}
    # FOCUS: the batch day saves against the list price, the standard-rate day does not.
    by_day = {
        day: (modes, savings)
        for day, modes, savings in demo_con.execute(
            "select cast(ChargePeriodStart as date), list(distinct x_PricingMode),"
            " sum(ListCost - BilledCost) from marts.focus_charges"
            f" where ResourceId = '{job.batch_id}' group by all"
        ).fetchall()
    }
    assert by_day[date(2026, 11, 27)][0] == ["batch"] and by_day[date(2026, 11, 27)][1] > 0
    assert by_day[end] == (["serverless"], 0)


def test_the_readme_says_what_the_demos_data_quality_issues_hold(
    demo_con: duckdb.DuckDBPyConnection,
) -> None:
    issues = {
        issue for (issue,) in demo_con.execute("select issue from marts.data_quality_issues")
        .fetchall()
    }  # fmt: skip
    assert issues == {"missing_audio_duration"}
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert "The demo's `data_quality_issues` has one kind of line" in readme
    assert "flagged `missing_audio_duration`" in readme
    assert "data_quality_issues` is empty" not in readme
