"""Eligibility over time: a model's batch discount ends on a date, and the items on either side
of it are priced differently (the batch row before, the serverless row from that day on).

Its own small warehouse (one batch across the end of the launch discount of
Meta-Llama-3.1-8B-Instruct-Turbo, 2026-11-28), checked against an independent Decimal
computation from prices/model_prices.csv (tests/warehouse/expected.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from batchledger.transform import run_dbt
from tests.duck import dict_rows

from . import raw_fixture
from .conftest import PRICE_CSV
from .expected import load_prices, price_on, usd

ENDED = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"  # launch discount, absent since 2026-11-28
KEPT = raw_fixture.LLAMA  # on the current batch page: still discounted
END = date(2026, 11, 28)
BATCH = "batch-eligibility"
# custom_id: (model, usage time, prompt tokens, completion tokens)
ITEMS = {
    "before": (ENDED, "2026-11-27T23:59:59", 1_000_000, 500_000),
    "after": (ENDED, "2026-11-28T00:00:00", 1_000_000, 500_000),
    "kept": (KEPT, "2026-11-28T00:30:00", 2_000, 1_000),
}


def _raw_rows() -> dict[str, list[dict[str, Any]]]:
    batch = raw_fixture._batch(
        BATCH, "COMPLETED", None, "2026-11-27T22:00:00", "2026-11-28T01:00:00",
        input_file="file-in-el", output_file="file-out-el",
    )  # fmt: skip
    requests, results = [], []
    for line, (custom_id, (model, used, prompt, completion)) in enumerate(ITEMS.items(), 1):
        requests.append(raw_fixture._request(BATCH, "file-in-el", line, custom_id, model, None))
        results.append(
            raw_fixture._result(
                BATCH, "file-out-el", line, custom_id,
                usage=raw_fixture._usage(prompt, completion), model=model, created=used,
            )
        )  # fmt: skip
    loads = [
        raw_fixture._file_load("file-in-el", BATCH, "input", len(ITEMS)),
        raw_fixture._file_load("file-out-el", BATCH, "output", len(ITEMS)),
    ]
    return {
        "batches": [batch],
        "batch_status_history": [
            {
                "batch_id": BATCH,
                "status": "COMPLETED",
                "progress": 100.0,
                "observed_at": batch["observed_at"],
            }
        ],
        "files": [],
        "file_loads": loads,
        "batch_requests": requests,
        "batch_results": results,
        "quarantine": [],
    }


def _build(db_path: Path) -> None:
    with duckdb.connect(str(db_path)) as con:
        con.execute(f"create schema {raw_fixture.SCHEMA}")
        for table, table_rows in _raw_rows().items():
            columns = {**raw_fixture.TABLES[table], **raw_fixture.DLT_COLUMNS}
            ddl = ", ".join(f"{name} {data_type}" for name, data_type in columns.items())
            con.execute(f"create table {raw_fixture.SCHEMA}.{table} ({ddl})")
            for index, row in enumerate(table_rows):
                values = [row.get(name) for name in raw_fixture.TABLES[table]]
                values += [raw_fixture.LOAD_ID, f"{table}-{index}"]
                con.execute(
                    f"insert into {raw_fixture.SCHEMA}.{table} values "
                    f"({', '.join('?' for _ in values)})",
                    values,
                )


@pytest.mark.slow
def test_items_either_side_of_a_discount_end_are_priced_differently(tmp_path: Path) -> None:
    db_path = tmp_path / "eligibility.duckdb"
    _build(db_path)
    outcome = run_dbt(
        db_path,
        # Cautious: leave out the tests that also read marts this build does not make.
        ("build", "--select", "+cost_by_month", "--indirect-selection", "cautious"),
        artifacts_dir=tmp_path / "dbt",
    )
    assert outcome.success, outcome.failures

    prices = load_prices(PRICE_CSV)
    with duckdb.connect(str(db_path), read_only=True) as con:
        items = {
            row["custom_id"]: row
            for row in dict_rows(
                con,
                "select custom_id, pricing_mode_applied, cost_usd, realtime_cost_usd "
                f"from marts.fct_batch_items where batch_id = '{BATCH}'",
            )
        }
        month = dict_rows(con, "select model, cost_usd from marts.cost_by_month order by model")

    expected_costs: dict[str, Decimal] = {}
    for custom_id, (model, used, prompt, completion) in ITEMS.items():
        day = date.fromisoformat(used[:10])
        billed = price_on(prices, model, "batch", day) or price_on(prices, model, "serverless", day)
        assert billed is not None
        expected_costs[custom_id] = sum(usd(prompt, 0, completion, billed), Decimal(0))
        assert items[custom_id]["cost_usd"] == expected_costs[custom_id], custom_id

    # The day before the end: the batch row (half the list price). From the end on: the
    # serverless row, so the same tokens cost twice as much and save nothing.
    assert items["before"]["pricing_mode_applied"] == "batch"
    assert items["after"]["pricing_mode_applied"] == "serverless"
    assert items["after"]["cost_usd"] == 2 * items["before"]["cost_usd"]
    # 1M prompt tokens at 0.09 + 0.5M completion tokens at 0.09 (batch), then at 0.18.
    assert items["before"]["cost_usd"] == Decimal("0.135")
    assert items["after"]["cost_usd"] == items["after"]["realtime_cost_usd"] == Decimal("0.27")
    # A model still on the batch page keeps its discount on and after that day.
    assert items["kept"]["pricing_mode_applied"] == "batch"
    assert month == [
        {"model": KEPT, "cost_usd": expected_costs["kept"]},
        {"model": ENDED, "cost_usd": expected_costs["before"] + expected_costs["after"]},
    ]
