"""`make report`: the spend report is one HTML page whose every figure equals the marts, which
headless Chromium (Debian's `chromium`) draws from disk with the network off."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from batchledger.report import read_report_data, write_report
from tests.duck import dict_rows

from .conftest import BuiltWarehouse

BATCHLEDGER = str(Path(sys.executable).with_name("batchledger"))
SECTIONS = ["spend-by-month", "savings", "cohorts", "top-jobs", "failures", "budgets", "unpriced"]


# What sections 1 and 4 must show, as SQL on the marts (both warehouses are checked).
SPEND_BY_MONTH = """
    select usage_month,
        model || case when charge_kind = 'dedicated_idle' then ' (idle)' else '' end as model,
        cost_usd, realtime_cost_usd, unpriced_items
    from marts.cost_by_month order by usage_month, provider, model, charge_kind
"""
TOP_JOBS = """
    select batch_id, status, items_total, items_failed, items_not_processed,
        unpriced_items, cost_usd
    from marts.cost_by_job
    order by cost_usd desc nulls last, created_at desc, batch_id limit 10
"""


def run_report(demo_db: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TOGETHER_API_KEY"}
    env.update(BATCHLEDGER_DB=str(demo_db), COLUMNS="200")
    return subprocess.run(
        [BATCHLEDGER, "report", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def figures_of(page: str) -> dict[str, Any]:
    block = re.search(
        r'<script type="application/json" id="report-figures">(.*?)</script>', page, re.S
    )
    assert block, "no JSON figures block"
    loaded: dict[str, Any] = json.loads(block.group(1).replace("<\\/", "</"))
    return loaded


def same(page_rows: list[dict[str, Any]], sql_rows: list[dict[str, Any]]) -> None:
    """The page's rows equal the SQL rows: decimals exactly, dates as ISO text."""
    assert len(page_rows) == len(sql_rows), (page_rows, sql_rows)
    for shown, expected in zip(page_rows, sql_rows, strict=True):
        for column, value in expected.items():
            got = shown[column]
            if isinstance(value, Decimal):
                assert got is not None and Decimal(got) == value, (column, got, value)
            elif hasattr(value, "isoformat"):
                assert got == value.isoformat(), (column, got, value)
            else:
                assert got == value, (column, got, value)


def unpriced_from_items(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return dict_rows(con, """
        select model, count(*) as unpriced_items,
            cast(coalesce(sum(total_tokens), 0) as bigint) as unpriced_tokens
        from marts.fct_batch_items where not is_priced
        group by provider, model order by unpriced_items desc, provider, model
    """)  # fmt: skip


@pytest.fixture(scope="module")
def report_page(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    done = run_report(demo_db, tmp_path_factory.mktemp("report"))
    assert done.returncode == 0, done.stdout + done.stderr
    page = demo_db.parent / "demo-report.html"
    assert str(page) in done.stdout
    return page


def test_every_figure_in_the_page_equals_the_marts(report_page: Path, demo_db: Path) -> None:
    page = report_page.read_text()
    figures = figures_of(page)
    assert figures["demo"] is True and figures["month"] is None
    assert figures["warehouse"] == str(demo_db)
    sections = figures["sections"]
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        # 1. Billed and real-time cost by month and model.
        same(
            sections["spend_by_month"],
            dict_rows(con, SPEND_BY_MONTH),
        )  # fmt: skip
        # 2. Savings by month: over the items, not the rollup.
        same(
            sections["savings_by_month"],
            dict_rows(con, """
                select usage_month, sum(cost_usd) as cost_usd,
                    sum(realtime_cost_usd) as realtime_cost_usd, sum(savings_usd) as savings_usd
                from marts.fct_batch_items group by usage_month order by usage_month
            """),
        )  # fmt: skip
        for shown in sections["savings_by_month"]:
            percent = Decimal(shown["savings_usd"]) * 100 / Decimal(shown["realtime_cost_usd"])
            assert abs(Decimal(str(shown["savings_percent"])) - percent) <= Decimal("0.05")
        # 3. Cohorts: the last three calendar months there are.
        same(
            sections["cohort_spend"],
            dict_rows(con, """
                select usage_month, cohort_key, cohort_value, cost_usd, unpriced_items
                from marts.cost_by_cohort
                where usage_month > (select max(usage_month) from marts.cost_by_cohort)
                    - interval 3 month
                order by cohort_key, usage_month, cohort_value
            """),
        )  # fmt: skip
        assert {r["cohort_key"] for r in sections["cohort_spend"]} == {"team", "project"}
        # 4. The ten costliest jobs, from cost_by_job.
        same(
            sections["top_jobs"],
            dict_rows(con, TOP_JOBS),
        )  # fmt: skip
        # 5. Failures and retries.
        same(
            sections["failures"],
            dict_rows(con, """
                select root_batch_id, jobs, items_failed, items_not_processed, cost_usd,
                    retry_cost_usd
                from marts.cost_by_logical_job where has_failures or jobs > 1
                order by items_failed + items_not_processed desc, cost_usd desc nulls last,
                    root_batch_id
            """),
        )  # fmt: skip
        totals = sections["failure_totals"][0]
        items = dict_rows(con, """
            select count(*) filter (where item_status = 'failed') as items_failed,
                count(*) filter (where item_status = 'not_processed') as items_not_processed
            from marts.fct_batch_items
        """)[0]  # fmt: skip
        assert totals["items_failed"] == items["items_failed"] > 0
        assert totals["items_not_processed"] == items["items_not_processed"] > 0
        # 6. Budgets of the open month.
        same(
            sections["budgets"],
            dict_rows(con, """
                select budget_month, scope_key, scope_value, budget_usd, spent_usd, forecast_usd,
                    percent_used, forecast_percent
                from marts.budget_status where month_state = 'open'
                order by scope_key, scope_value
            """),
        )  # fmt: skip
        # 7. Unpriced usage, from the items.
        same(sections["unpriced"], unpriced_from_items(con))
        assert sections["unpriced"], "the demo's fine-tune has no price"
        assert (
            len(sections["data_quality"])
            == dict_rows(
                con, "select count(distinct (issue, effect)) as n from marts.data_quality_issues"
            )[0]["n"]
        )
    finally:
        con.close()

    # What a reader sees: the tables show the same figures, rounded; unpriced usage in red,
    # never as $0.
    visible = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    for row in sections["spend_by_month"]:
        if row["cost_usd"] is not None:
            assert f"${Decimal(row['cost_usd']):,.6f}" in visible
    for row in sections["unpriced"]:
        assert f'<span class="unpriced">{row["model"]}</span>' in visible
    # A top job's unpriced items show in red beside its cost, or instead of it when it has
    # none (the Whisper job's two lines without a duration; the fine-tune, when it ranks).
    flagged = [r for r in sections["top_jobs"] if r["unpriced_items"]]
    assert flagged
    for job in flagged:
        if job["cost_usd"] is None:
            assert f"unpriced ({job['unpriced_items']:,} items)" in visible
        else:
            assert f'<span class="unpriced">+ {job["unpriced_items"]:,} unpriced</span>' in visible
    assert "DEMO data" in visible and 'id="demo-banner"' in visible
    assert 'id="warehouse">' + str(demo_db) in visible


def test_the_page_needs_no_network(report_page: Path) -> None:
    page = report_page.read_text()
    # Scripts and styles are inline: no src or href reaches out.
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)
    assert "cdn.plot.ly" not in page.replace("cdn.plot.ly/", "")  # no loader of its own
    assert page.count("<script") >= 9  # plotly.js, one per chart, the figures, the checks


def render(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make test` (target browser) installs it"
    return subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            # The network is off: every request goes to a closed port.
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=20000", *args, url,
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.mark.timeout(600)
def test_chromium_draws_every_chart_with_no_console_error(
    report_page: Path, tmp_path: Path
) -> None:
    url = f"file://{report_page}"
    dom = render(url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The page's own error listener saw nothing, and the console printed no error.
    assert re.search(r'<body[^>]* data-errors="0"', dom.stdout), dom.stdout[-500:]
    console_errors = [
        line for line in dom.stderr.splitlines()
        if "CONSOLE" in line and re.search(r"error|uncaught", line, re.I)
    ]  # fmt: skip
    assert not console_errors, console_errors
    # Each of the seven sections holds a chart plotly drew (its SVG) and a table.
    for section in SECTIONS:
        part = re.search(rf'<section id="{section}">(.*?)</section>', dom.stdout, re.S)
        assert part, section
        assert 'class="main-svg"' in part.group(1), f"{section}: no chart drawn"
        assert "<table>" in part.group(1), f"{section}: no table"
    assert re.search(r"<g class=\"point\">", dom.stdout)  # bars were drawn
    shot = tmp_path / "report.png"
    done = render(url, f"--screenshot={shot}", "--window-size=1300,6200")
    assert done.returncode == 0 and shot.stat().st_size > 100_000  # a drawn page


def test_one_month_and_bad_months(demo_db: Path, tmp_path: Path) -> None:
    done = run_report(demo_db, tmp_path, "--month", "2026-10")
    assert done.returncode == 0, done.stdout + done.stderr
    # Beside the whole report, never over it.
    figures = figures_of((demo_db.parent / "demo-report-2026-10.html").read_text())
    assert figures["month"] == "2026-10-01"
    months = {r["usage_month"] for r in figures["sections"]["spend_by_month"]}
    assert months == {"2026-10-01"}
    assert {r["budget_month"] for r in figures["sections"]["budgets"]} == {"2026-10-01"}
    for bad in ("2026-13", "november"):
        refused = run_report(demo_db, tmp_path, "--month", bad)
        assert refused.returncode == 2, refused.stdout + refused.stderr


def test_unpriced_and_job_figures_on_odd_input(warehouse: BuiltWarehouse) -> None:
    """The raw fixture prices some items of a model and flags the usage of others: the page
    counts only the unpriced ones, from the items, and the jobs' figures are cost_by_job's."""
    sections = read_report_data(warehouse.db_path).figures()["sections"]
    con = duckdb.connect(str(warehouse.db_path), read_only=True)
    try:
        expected = unpriced_from_items(con)
        assert expected and sections["unpriced"]
        same(sections["unpriced"], expected)
        same(
            sections["top_jobs"],
            dict_rows(con, TOP_JOBS),
        )  # fmt: skip
        same(
            sections["spend_by_month"],
            dict_rows(con, SPEND_BY_MONTH),
        )  # fmt: skip
    finally:
        con.close()


@pytest.mark.timeout(600)
def test_provider_strings_cannot_break_the_page_and_a_job_without_a_model_renders(
    demo_db: Path, tmp_path: Path
) -> None:
    """A cohort value that opens an HTML comment and a script inside the JSON block, and a
    job whose model Together has not named yet: the page still runs its scripts, and the
    block still parses to the exact values."""
    hostile = "<!--<script>"
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "update marts.cost_by_cohort set cohort_value = $v || cohort_value", {"v": hostile}
        )
        con.execute(
            "update marts.cost_by_job set model = null "
            "where batch_id = (select max(batch_id) from marts.cost_by_job)"
        )
    finally:
        con.close()
    page = write_report(db, tmp_path / "report.html")
    figures = figures_of(page.read_text())
    shown = figures["sections"]["cohort_spend"]
    assert shown and all(r["cohort_value"].startswith(hostile) for r in shown)
    dom = render(f"file://{page}", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert re.search(r'<body[^>]* data-errors="0"', dom.stdout), dom.stdout[-500:]
