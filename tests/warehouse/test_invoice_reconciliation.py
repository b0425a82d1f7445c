"""marts.invoice_reconciliation against an independent Decimal computation (expected.py): the
raw fixture's invoice lines and items, and the demo's bundled invoice."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from batchledger.emulator import demo_scenario
from batchledger.emulator.demo import DEDICATED_LLAMA
from batchledger.invoices import read_invoice
from batchledger.paths import DEMO_INVOICE
from tests.duck import dict_rows

from . import raw_fixture
from .conftest import PRICE_CSV, BuiltWarehouse
from .expected import (
    Reconciliation,
    demo_dedicated_lines,
    expected_demo_items,
    expected_invoice_reconciliation,
    expected_items,
    fixture_dedicated_lines,
    idle_by_month,
)

SQL = "select * from marts.invoice_reconciliation"


def actual(con: duckdb.DuckDBPyConnection) -> dict[tuple[date, str, str | None], Reconciliation]:
    return {
        (row["invoice_month"], row["reconciliation_level"], row["model"]): Reconciliation(
            invoice_lines=row["invoice_lines"],
            computed_billed_usd=row["computed_billed_usd"],
            unpriced_items=row["unpriced_items"],
            invoiced_usd=row["invoiced_usd"],
            difference_usd=row["difference_usd"],
            difference_percent=row["difference_percent"],
            tolerance_usd=row["tolerance_usd"],
            within_tolerance=row["within_tolerance"],
        )
        for row in dict_rows(con, SQL)  # type: ignore[misc]
    }


def test_tie_out_matches_an_independent_computation(con: duckdb.DuckDBPyConnection) -> None:
    items = expected_items(PRICE_CSV)
    idle = idle_by_month(fixture_dedicated_lines(items, PRICE_CSV))
    expected = expected_invoice_reconciliation(items.values(), raw_fixture.INVOICE_LINES, idle=idle)
    assert actual(con) == expected
    verdicts = {key: row.within_tolerance for key, row in expected.items()}
    llama, deepseek, acme = raw_fixture.LLAMA, raw_fixture.DEEPSEEK, raw_fixture.ACME
    assert verdicts == {
        # September ties out to the cent and beyond.
        (date(2025, 9, 1), "month", None): True,
        # October: DeepSeek invoiced 0.03 over its computed cost; the fine-tune (unpriced
        # here) is not invoiced; Llama matches exactly.
        (date(2025, 10, 1), "month", None): False,
        (date(2025, 10, 1), "model", llama): True,
        (date(2025, 10, 1), "model", deepseek): False,
        (date(2025, 10, 1), "model", acme): True,
        # November: a month total and a credit, within 0.01 USD of the computed cost.
        (date(2025, 11, 1), "month", None): True,
        # January 2026: invoiced, but nothing was used.
        (date(2026, 1, 1), "month", None): False,
    }
    october_deepseek = expected[(date(2025, 10, 1), "model", deepseek)]
    assert october_deepseek.difference_usd == Decimal("0.03")
    assert expected[(date(2026, 1, 1), "month", None)].difference_percent is None


def test_tolerance_is_a_dbt_var(warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """A wider tolerance (5 cents) lets October's DeepSeek line through. On a copy: the
    session's warehouse keeps the defaults the other tests read."""
    wide = '{"invoice_tolerance_usd": "0.05", "invoice_tolerance_percent": "0"}'
    copy = BuiltWarehouse(tmp_path / "warehouse.duckdb", tmp_path, warehouse.build)
    shutil.copyfile(warehouse.db_path, copy.db_path)
    run = copy.dbt("run", "--select", "invoice_reconciliation", "--vars", wide)
    assert run.success, run.output
    with duckdb.connect(str(copy.db_path), read_only=True) as con:
        items = expected_items(PRICE_CSV)
        expected = expected_invoice_reconciliation(
            items.values(),
            raw_fixture.INVOICE_LINES,
            idle=idle_by_month(fixture_dedicated_lines(items, PRICE_CSV)),
            tolerance_usd=Decimal("0.05"),
            tolerance_percent=Decimal(0),
        )
        assert actual(con) == expected
        assert expected[(date(2025, 10, 1), "model", raw_fixture.DEEPSEEK)].within_tolerance


def test_demo_invoice_ties_out_one_month_and_flags_the_other(
    demo_con: duckdb.DuckDBPyConnection,
) -> None:
    invoice = read_invoice(DEMO_INVOICE)
    lines = [
        {"invoice_month": line.invoice_month, "model": line.model,
         "amount_usd": str(line.amount_usd)}
        for line in invoice.lines
    ]  # fmt: skip
    scenario = demo_scenario()
    items = expected_demo_items(scenario, PRICE_CSV)
    idle = idle_by_month(demo_dedicated_lines(items, scenario, PRICE_CSV))
    expected = expected_invoice_reconciliation(items.values(), lines, idle=idle)
    assert actual(demo_con) == expected
    # The dedicated endpoint's hours, invoiced under its name, tie out with its jobs' share
    # and its idle remainder together.
    endpoint = expected[(date(2026, 11, 1), "model", DEDICATED_LLAMA)]
    assert endpoint.invoiced_usd == endpoint.computed_billed_usd == Decimal("80.64")
    months = {key[0]: row.within_tolerance for key, row in expected.items() if key[1] == "month"}
    assert months == {date(2026, 10, 1): True, date(2026, 11, 1): False}
    # November's gap is the fine-tune: invoiced, but unpriced in the warehouse.
    outside = [
        key[2] for key, row in expected.items() if key[1] == "model" and not row.within_tolerance
    ]
    assert outside == ["acme-ai/Llama-3.1-8B-labeler-ft"]
    assert (
        expected[(date(2026, 11, 1), "model", "acme-ai/Llama-3.1-8B-labeler-ft")].unpriced_items > 0
    )
