"""Dedicated endpoints over the raw fixture: jobs on an endpoint carry their token share of the
time they ran in its billing window, the rest is an idle row, and everything adds up exactly."""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, Decimal

import duckdb

from tests.duck import dict_rows

from . import raw_fixture
from .conftest import PRICE_CSV, BuiltWarehouse
from .expected import PICO, expected_items, fixture_dedicated_lines

WINDOW = f"together|{raw_fixture.DEDICATED}|2026-11-12 08:00:00"


def test_a_dedicated_job_and_the_idle_remainder_equal_a_hand_computation(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # The window: 6.72 USD an hour from 08:00 to 20:00.
    endpoint_cost = Decimal("6.72") * 12
    # The jobs ran 09:00-10:00 (ded-a), 09:45 to its last usage at 10:15:07 (ded-c, still
    # running) and 19:30 to the window's end at 20:00 (ded-b): 4507 s + 1800 s, once each.
    busy_seconds = (3600 + 15 * 60 + 7) + 30 * 60
    allocated = (endpoint_cost * busy_seconds / (12 * 3600)).quantize(PICO, ROUND_DOWN)
    assert allocated == Decimal("11.773066666666")
    # Token shares: ded-a 1200 + 1000 (its failed item used none), ded-b 330 (its item after
    # 20:00 is outside every window: unpriced), ded-c 533 + 770.
    tokens = {"batch-ded-a": 2200, "batch-ded-b": 330, "batch-ded-c": 1303}
    floors = {
        batch: (allocated * count / sum(tokens.values())).quantize(PICO, ROUND_DOWN)
        for batch, count in tokens.items()
    }
    # 6.757304113400(78), 1.013595617010(12), 4.002166936255(10): one picodollar is left, and
    # the largest remainder (ded-a's) takes it.
    assert allocated - sum(floors.values()) == PICO
    hand = {**floors, "batch-ded-a": floors["batch-ded-a"] + PICO}
    assert hand == {
        "batch-ded-a": Decimal("6.757304113401"),
        "batch-ded-b": Decimal("1.013595617010"),
        "batch-ded-c": Decimal("4.002166936255"),
    }
    idle = endpoint_cost - allocated
    assert idle == Decimal("68.866933333334")

    found = dict_rows(
        con,
        f"select * from marts.dedicated_endpoint_costs where endpoint_window_id = '{WINDOW}'",
    )
    jobs = {row["batch_id"]: row["cost_usd"] for row in found if row["line_kind"] == "job"}
    assert jobs == hand
    (idle_row,) = [row for row in found if row["line_kind"] == "idle"]
    assert idle_row["cost_usd"] == idle and idle_row["batch_id"] is None
    assert {row["endpoint_cost_usd"] for row in found} == {endpoint_cost}
    assert {row["busy_seconds"] for row in found} == {busy_seconds}
    assert sum(jobs.values()) + idle_row["cost_usd"] == endpoint_cost
    # The same figures from the independent Python computation.
    lines = fixture_dedicated_lines(expected_items(PRICE_CSV), PRICE_CSV)[WINDOW]
    assert {batch: pico * PICO for batch, pico in lines.jobs.items()} == hand
    assert lines.idle_pico * PICO == idle


def test_dedicated_items_carry_their_jobs_share_and_no_discount(
    con: duckdb.DuckDBPyConnection,
) -> None:
    items = dict_rows(
        con,
        "select * from marts.fct_batch_items where dedicated_endpoint is not null "
        "order by batch_id, custom_id",
    )
    assert {row["dedicated_endpoint"] for row in items} == {raw_fixture.DEDICATED}
    per_job: dict[str, Decimal] = {}
    for row in items:
        if row["custom_id"] == "db-2":  # after the window closed: flagged as unpriced
            assert (row["is_priced"], row["cost_usd"], row["pricing_mode_applied"]) == (
                False,
                None,
                None,
            )
            continue
        assert row["pricing_mode_applied"] == "dedicated" and row["is_priced"]
        assert row["endpoint_window_id"] == WINDOW
        assert row["realtime_cost_usd"] is None and row["savings_usd"] is None
        assert row["billed_model_price_id"] is None
        assert row["cost_usd"] == row["input_cost_usd"] + row["output_cost_usd"]
        per_job[row["batch_id"]] = per_job.get(row["batch_id"], Decimal(0)) + row["cost_usd"]
    jobs = dict(
        con.execute(
            "select batch_id, cost_usd from marts.dedicated_endpoint_costs where line_kind = 'job'"
        ).fetchall()
    )
    assert per_job == jobs
    # cost_by_job carries the same allocation; the unpriced item is counted, never $0.
    by_job = {
        row["batch_id"]: row
        for row in dict_rows(
            con, "select * from marts.cost_by_job where batch_id like 'batch-ded-%'"
        )
    }
    assert {batch: row["cost_usd"] for batch, row in by_job.items()} == jobs
    assert by_job["batch-ded-b"]["unpriced_items"] == 1


def test_a_window_of_an_endpoint_the_account_never_named_is_listed_not_costed(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # The demo's idle Qwen endpoint shares the seed, but nothing in this warehouse names it.
    found = dict_rows(
        con,
        "select * from marts.dedicated_endpoint_costs where endpoint like '%Qwen2.5-7B%'",
    )
    assert [(row["line_kind"], row["is_costed"], row["cost_usd"]) for row in found] == [
        ("not_this_account", False, None)
    ]
    assert found[0]["endpoint_cost_usd"] is None
    months = con.execute(
        "select count(*) from marts.cost_by_month where model like '%Qwen2.5-7B-Instruct-Turbo-%'"
    ).fetchone()
    assert months == (0,)


def test_the_idle_remainder_counts_in_budgets_under_its_own_scope_value(
    con: duckdb.DuckDBPyConnection,
) -> None:
    idle = con.execute(
        "select sum(cost_usd) from marts.cost_by_cohort "
        "where cohort_key = 'team' and cohort_value = '(dedicated idle)'"
    ).fetchone()
    assert idle == (Decimal("68.866933333334"),)
    total = con.execute(
        "select sum(cost_usd) from marts.cost_by_month where usage_month = '2026-11-01'"
    ).fetchone()
    teams = con.execute(
        "select sum(cost_usd) from marts.cost_by_cohort "
        "where usage_month = '2026-11-01' and cohort_key = 'team'"
    ).fetchone()
    assert total == teams


def test_focus_carries_each_line_as_dedicated_endpoint_hours(
    con: duckdb.DuckDBPyConnection,
) -> None:
    found = {
        resource: (cost, hours, kind)
        for resource, cost, hours, kind in con.execute(
            'select "ResourceId", "BilledCost", "ConsumedQuantity", "ResourceType" '
            "from marts.focus_charges where \"SkuMeter\" = 'Dedicated Endpoint Hours'"
        ).fetchall()
    }
    busy_ms, window_ms, tokens = 6_307_000, 12 * 3_600_000, 3833

    def hours(milliseconds_times_share: int, divisor: int) -> Decimal:
        return Decimal(milliseconds_times_share * 10**6 // divisor) / 10**6

    assert found == {
        "batch-ded-a": (
            Decimal("6.757304113401"),
            hours(busy_ms * 2200, tokens * 3_600_000),
            "Batch Job",
        ),
        "batch-ded-b": (
            Decimal("1.013595617010"),
            hours(busy_ms * 330, tokens * 3_600_000),
            "Batch Job",
        ),
        "batch-ded-c": (
            Decimal("4.002166936255"),
            hours(busy_ms * 1303, tokens * 3_600_000),
            "Batch Job",
        ),
        raw_fixture.DEDICATED: (
            Decimal("68.866933333334"),
            hours(window_ms - busy_ms, 3_600_000),
            "Dedicated Endpoint",
        ),
    }


def test_a_build_computes_the_jobs_intervals_and_busy_time_once(
    warehouse: BuiltWarehouse, con: duckdb.DuckDBPyConnection
) -> None:
    # One model computes them (inlined into fct_batch_items); the mart reads the busy time
    # the items carry instead of computing it over again.
    manifest = json.loads((warehouse.tmp_dir / "target" / "manifest.json").read_text())
    interval_macros = {
        f"macro.batchledger.{name}"
        for name in (
            "dedicated_job_started_at",
            "dedicated_job_ended_at",
            "interval_union_milliseconds",
        )
    }
    computing = {
        node_id
        for node_id, node in manifest["nodes"].items()
        if interval_macros & set(node.get("depends_on", {}).get("macros", []))
    }
    assert computing == {"model.batchledger.int_batch_items_allocated"}
    # Every item of a window carries the same busy time, the mart's.
    busy = con.execute(
        "select items.endpoint_window_id, count(distinct items.endpoint_window_busy_milliseconds),"
        " any_value(items.endpoint_window_busy_milliseconds), any_value(costs.busy_seconds)"
        " from marts.fct_batch_items as items"
        " inner join marts.dedicated_endpoint_costs as costs"
        " on items.endpoint_window_id = costs.endpoint_window_id"
        " group by all"
    ).fetchall()
    assert busy == [(WINDOW, 1, ((3600 + 15 * 60 + 7) + 30 * 60) * 1000, Decimal(6307))]
