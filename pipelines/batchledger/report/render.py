"""The spend report as one self-contained HTML page: plotly charts (plotly.js inlined once, no
CDN), a small table under each, and every figure in a JSON block (`<script
type="application/json" id="report-figures">`) for machines and tests.

Money is drawn from floats (a chart needs numbers) but every table and the JSON block show
the marts' exact decimals. Usage with no price is shown in red as "unpriced", never as $0.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from batchledger.report.data import ReportData

UNPRICED_RED = "#c0392b"
MONTH_COLOURS = ("#9ecae1", "#4292c6", "#08519c")
BUDGET_LINES = (80, 95, 100)

Row = dict[str, Any]
Cell = Callable[[Row], str]


def render_report(data: ReportData) -> str:
    sections = [
        _spend_by_month(data),
        _savings(data),
        _cohorts(data),
        _top_jobs(data),
        _failures(data),
        _budgets(data),
        _unpriced(data),
    ]
    # Every "<" escaped (a JSON string may hold "\u003c"), not only "</": a value such as
    # "<!--<script>" would otherwise move the HTML parser into a state where the page's
    # next </script> no longer ends this block.
    figures = json.dumps(data.figures(), indent=1, sort_keys=True).replace("<", "\\u003c")
    scope = f"month {data.month:%Y-%m}" if data.month else "all months"
    time_range = data.rows("time_range")[0]
    first, last = time_range["first_used_at"], time_range["last_used_at"]
    span = f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC" if first and last else "no usage"
    banner = (
        '<p class="demo" id="demo-banner">DEMO data: the bundled emulator\'s account, '
        "not a real warehouse.</p>"
        if data.demo
        else ""
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>batchledger spend report</title>
<style>{_CSS}</style>
<script>
window.reportErrors = [];
window.addEventListener("error", function (e) {{ window.reportErrors.push(String(e.message)); }});
</script>
<script>{get_plotlyjs()}</script>
</head>
<body>
<header>
<h1>Batch inference spend</h1>
{banner}
<dl>
<dt>Warehouse</dt><dd id="warehouse">{_e(str(data.warehouse))}</dd>
<dt>Data</dt><dd id="time-range">{_e(span)} ({_e(scope)})</dd>
<dt>Warehouse published</dt><dd>{data.published_at:%Y-%m-%d %H:%M:%S} UTC</dd>
<dt>Report built</dt><dd id="built-at">{data.built_at:%Y-%m-%d %H:%M:%S} UTC</dd>
</dl>
<p class="note">Amounts are USD. Tables show the marts' exact figures, rounded for reading;
the exact values are in this page's JSON block <code>#report-figures</code>.</p>
</header>
{"".join(sections)}
<script type="application/json" id="report-figures">{figures}</script>
<script>
document.body.setAttribute("data-errors", String(window.reportErrors.length));
var drawn = document.querySelectorAll(".js-plotly-plot .main-svg").length;
document.body.setAttribute("data-charts", String(drawn));
</script>
</body>
</html>
"""


def _section(key: str, title: str, intro: str, figure: go.Figure | None, table: str) -> str:
    chart = (
        figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{key}",
            config={"displaylogo": False, "responsive": True},
        )
        if figure is not None
        else '<p class="empty">Nothing to chart.</p>'
    )
    return (
        f'<section id="{key}"><h2>{_e(title)}</h2><p>{intro}</p>'
        f'<div class="chart">{chart}</div>{table}</section>\n'
    )


def _spend_by_month(data: ReportData) -> str:
    rows = data.rows("spend_by_month")
    months = sorted({row["usage_month"] for row in rows})
    figure = go.Figure()
    for model in sorted({row["model"] for row in rows}):
        figure.add_bar(
            name=model,
            x=[f"{m:%Y-%m}" for m in months],
            y=[_money_of(rows, m, model, "cost_usd") for m in months],
            offsetgroup="billed",
        )
    figure.add_bar(
        name="real-time equivalent (all models)",
        x=[f"{m:%Y-%m}" for m in months],
        y=[
            _float(_sum(r["realtime_cost_usd"] for r in rows if r["usage_month"] == m))
            for m in months
        ],
        offsetgroup="realtime",
        marker={"color": "rgba(120,120,120,0.45)", "line": {"color": "#555", "width": 1}},
    )
    _layout(figure, "USD", barmode="stack")
    table = _table(
        rows,
        [
            ("Month", lambda r: _e(f"{r['usage_month']:%Y-%m}")),
            ("Model", lambda r: _e(r["model"])),
            ("Items", lambda r: _int(r["items_total"])),
            ("Billed", lambda r: _cost(r["cost_usd"], r["unpriced_items"])),
            ("Real-time equivalent", lambda r: _cost(r["realtime_cost_usd"], r["unpriced_items"])),
        ],
    )
    return _section(
        "spend-by-month",
        "1. Spend by month, by model",
        "Billed cost stacked by model; the grey bar beside each month is what the same "
        "tokens cost at real-time (serverless) prices.",
        figure if rows else None,
        table,
    )


def _savings(data: ReportData) -> str:
    rows = data.rows("savings_by_month")
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    months = [f"{r['usage_month']:%Y-%m}" for r in rows]
    figure.add_bar(name="savings (USD)", x=months, y=[_float(r["savings_usd"]) for r in rows])
    figure.add_scatter(
        name="savings (% of real-time)",
        x=months,
        y=[r["savings_percent"] for r in rows],
        mode="lines+markers+text",
        text=[f"{r['savings_percent']}%" if r["savings_percent"] is not None else "" for r in rows],
        textposition="top center",
        secondary_y=True,
    )
    _layout(figure, "USD")
    figure.update_yaxes(title_text="% of real-time cost", secondary_y=True, rangemode="tozero")
    table = _table(
        rows,
        [
            ("Month", lambda r: _e(f"{r['usage_month']:%Y-%m}")),
            ("Real-time equivalent", lambda r: _usd(r["realtime_cost_usd"])),
            ("Billed", lambda r: _usd(r["cost_usd"])),
            ("Saved", lambda r: _usd(r["savings_usd"])),
            (
                "Saved %",
                lambda r: (
                    _e(f"{r['savings_percent']}%") if r["savings_percent"] is not None else "-"
                ),
            ),
        ],
    )
    return _section(
        "savings",
        "2. Batch discount savings by month",
        "Real-time (serverless) cost minus billed cost, over priced items with a real-time price.",
        figure if rows else None,
        table,
    )


def _cohorts(data: ReportData) -> str:
    rows = data.rows("cohort_spend")
    keys = sorted({r["cohort_key"] for r in rows})
    figure = None
    if keys:
        figure = make_subplots(rows=1, cols=len(keys), subplot_titles=[f"by {k}" for k in keys])
        months = sorted({r["usage_month"] for r in rows})
        # One colour per month in every panel, as the one legend shows.
        colours = dict(zip(months, MONTH_COLOURS, strict=False))
        for column, key in enumerate(keys, start=1):
            for month in months:
                chosen = [r for r in rows if r["cohort_key"] == key and r["usage_month"] == month]
                figure.add_bar(
                    name=f"{month:%Y-%m}",
                    legendgroup=f"{month:%Y-%m}",
                    showlegend=column == 1,
                    x=[r["cohort_value"] for r in chosen],
                    y=[_float(r["cost_usd"]) for r in chosen],
                    marker={"color": colours.get(month, "#888")},
                    row=1,
                    col=column,
                )
        _layout(figure, "USD", barmode="group")
    table = _table(
        rows,
        [
            ("Key", lambda r: _e(r["cohort_key"])),
            ("Value", lambda r: _e(r["cohort_value"])),
            ("Month", lambda r: _e(f"{r['usage_month']:%Y-%m}")),
            ("Items", lambda r: _int(r["items_total"])),
            ("Billed", lambda r: _cost(r["cost_usd"], r["unpriced_items"])),
        ],
    )
    return _section(
        "cohorts",
        "3. Spend by team and by project, last 3 months",
        "Each request's cohort (its metadata, else the batch's tags); requests without the "
        "key are (unassigned), so each month adds up to its total.",
        figure,
        table,
    )


def _top_jobs(data: ReportData) -> str:
    rows = data.rows("top_jobs")
    figure = go.Figure()
    labels = [f"{r['batch_id'][:8]} {_short_model(r['model'])}" for r in reversed(rows)]
    if len(set(labels)) < len(labels):  # two ids alike in 8 characters: one bar each
        labels = [f"{r['batch_id']} {_short_model(r['model'])}" for r in reversed(rows)]
    figure.add_bar(
        x=[_float(r["cost_usd"]) for r in reversed(rows)],
        y=labels,
        orientation="h",
        name="billed",
        marker={"color": "#2c7fb8"},
    )
    for label, row in zip(labels, reversed(rows), strict=True):
        if row["unpriced_items"]:
            figure.add_annotation(
                x=0,
                y=label,
                xanchor="left",
                showarrow=False,
                text=f"  {row['unpriced_items']} unpriced items",
                font={"color": UNPRICED_RED},
            )
    _layout(figure, "", height=420, horizontal=True)
    figure.update_xaxes(title_text="USD")
    table = _table(
        rows,
        [
            ("Job", lambda r: f"<code>{_e(r['batch_id'])}</code>"),
            ("Model", lambda r: _e(r["model"])),
            ("Status", lambda r: _e(r["status"] + ("" if r["is_cost_final"] else " (so far)"))),
            ("Items", lambda r: _int(r["items_total"])),
            ("Failed", lambda r: _int(r["items_failed"])),
            ("Not processed", lambda r: _int(r["items_not_processed"])),
            ("Billed", lambda r: _cost(r["cost_usd"], r["unpriced_items"])),
        ],
    )
    return _section(
        "top-jobs",
        "4. The 10 most expensive jobs",
        "Billed cost per job; a job still running shows its cost so far.",
        figure if rows else None,
        table,
    )


def _failures(data: ReportData) -> str:
    rows = data.rows("failures")
    totals = data.rows("failure_totals")[0]
    labels = [f"{r['root_batch_id'][:8]} ({r['latest_status']})" for r in rows]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_bar(name="failed items", x=labels, y=[r["items_failed"] for r in rows])
    figure.add_bar(
        name="not processed (job failed, expired, cancelled)",
        x=labels,
        y=[r["items_not_processed"] for r in rows],
    )
    figure.add_scatter(
        name="retry cost (USD)",
        x=labels,
        y=[_float(r["retry_cost_usd"]) for r in rows],
        mode="markers",
        marker={"size": 11, "symbol": "diamond"},
        secondary_y=True,
    )
    _layout(figure, "items", barmode="stack")
    figure.update_yaxes(title_text="retry cost, USD", secondary_y=True, rangemode="tozero")
    intro = (
        f"{totals['items_failed']} failed and {totals['items_not_processed']} unprocessed items; "
        f"retries cost {_usd(totals['retry_cost_usd'])} over {totals['retried_logical_jobs']} "
        "retried logical jobs. One row per logical job (a job and all its retries) with failed "
        "or unprocessed items, or a retry."
    )
    table = _table(
        rows,
        [
            ("Logical job", lambda r: f"<code>{_e(r['root_batch_id'])}</code>"),
            ("Model", lambda r: _e(r["model"])),
            ("Latest status", lambda r: _e(r["latest_status"])),
            ("Jobs", lambda r: _int(r["jobs"])),
            ("Failed", lambda r: _int(r["items_failed"])),
            ("Not processed", lambda r: _int(r["items_not_processed"])),
            ("Billed (all attempts)", lambda r: _cost(r["cost_usd"], r["unpriced_items"])),
            ("Retries cost", lambda r: _usd(r["retry_cost_usd"])),
        ],
    )
    return _section(
        "failures", "5. Failures and their cost", intro, figure if rows else None, table
    )


def _budgets(data: ReportData) -> str:
    rows = data.rows("budgets")
    labels = [f"{r['scope_key']}: {r['scope_value']}" for r in rows]
    figure = go.Figure()
    figure.add_bar(
        name="spent", y=labels, x=[_float(r["percent_used"]) for r in rows], orientation="h"
    )
    figure.add_bar(
        name="forecast", y=labels, x=[_float(r["forecast_percent"]) for r in rows], orientation="h"
    )
    for line in BUDGET_LINES:
        figure.add_vline(
            x=line,
            line_dash="dash" if line < 100 else "solid",
            line_color=UNPRICED_RED if line == 100 else "#e67e22",
            annotation_text=f"{line}%",
            # 95 and 100 sit close together: their labels go on either side of their lines.
            annotation_position="top right" if line == 100 else "top left",
        )
    _layout(figure, "", barmode="group", height=360, horizontal=True)
    figure.update_xaxes(title_text="% of the month's budget")
    month = f"{rows[0]['budget_month']:%Y-%m} ({rows[0]['month_state']})" if rows else "none"
    # The warehouse's clock (budget_status.as_of_at), not the time the page was made.
    as_of = f", as of {rows[0]['as_of_at']:%Y-%m-%d %H:%M} UTC" if rows else ""
    table = _table(
        rows,
        [
            ("Scope", lambda r: _e(f"{r['scope_key']}: {r['scope_value']}")),
            ("Budget", lambda r: _usd(r["budget_usd"])),
            ("Spent", lambda r: _cost(r["spent_usd"], r["unpriced_items"])),
            ("Used", lambda r: _percent(r["percent_used"])),
            ("Forecast", lambda r: _usd(r["forecast_usd"])),
            ("Forecast % of budget", lambda r: _percent(r["forecast_percent"])),
        ],
    )
    return _section(
        "budgets",
        "6. Budgets",
        f"Month {_e(month + as_of)}: spent and forecast month-end spend as a share of each "
        "budget, with the 80, 95 and 100% alert lines. The month's state and forecast are as of "
        "that time: the latest usage in the data, or the dbt var budget_as_of.",
        figure if rows else None,
        table,
    )


def _unpriced(data: ReportData) -> str:
    rows = data.rows("unpriced")
    flags = data.rows("data_quality")
    figure = go.Figure()
    figure.add_bar(
        x=[r["model"] for r in rows],
        y=[r["unpriced_items"] for r in rows],
        name="unpriced items",
        marker={"color": UNPRICED_RED},
        text=[f"{r['unpriced_tokens']:,} tokens" for r in rows],
        textposition="outside",
    )
    _layout(figure, "items", height=340)
    table = _table(
        rows,
        [
            ("Model", lambda r: f'<span class="unpriced">{_e(r["model"])}</span>'),
            (
                "Unpriced items",
                lambda r: f'<span class="unpriced">{_int(r["unpriced_items"])}</span>',
            ),
            ("Tokens", lambda r: f'<span class="unpriced">{_int(r["unpriced_tokens"])}</span>'),
            ("Cost", lambda r: '<span class="unpriced">unpriced (not $0)</span>'),
        ],
    )
    flag_table = _table(
        flags,
        [
            ("Issue", lambda r: _e(r["issue"])),
            ("What was done", lambda r: _e(r["effect"])),
            ("Lines", lambda r: _int(r["lines"])),
            ("Jobs", lambda r: _int(r["jobs"])),
        ],
        empty="No data-quality flags: every provider line was read as documented.",
    )
    return _section(
        "unpriced",
        "7. Unpriced usage and data-quality flags",
        "Usage with no price row in prices/model_prices.csv (a dedicated endpoint's: no billing "
        "window in prices/dedicated_endpoints.csv), or with flagged usage: its cost is unknown "
        "and left out of every total above, never counted as $0. Add the price row or window, "
        "then <code>make transform</code>.",
        figure if rows else None,
        table + "<h3>Data-quality flags</h3>" + flag_table,
    )


def _layout(
    figure: go.Figure,
    y_title: str,
    barmode: str | None = None,
    height: int = 380,
    horizontal: bool = False,
) -> None:
    figure.update_layout(
        barmode=barmode,
        height=height,
        margin={"l": 60, "r": 30, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    # Months and labels are categories, never a continuous date axis.
    if not horizontal:
        figure.update_xaxes(type="category")
    if y_title:
        figure.update_layout(yaxis_title_text=y_title)


def _table(
    rows: Sequence[Row], columns: Sequence[tuple[str, Cell]], empty: str = "No rows."
) -> str:
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(title)}</th>" for title, _ in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(row)}</td>" for _, cell in columns) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cost(value: Decimal | None, unpriced_items: int | None) -> str:
    """A cost, and in red how many items have none: an unpriced cost is never shown as $0."""
    unpriced = int(unpriced_items or 0)
    note = f' <span class="unpriced">+ {unpriced:,} unpriced</span>' if unpriced else ""
    if value is None:
        return f'<span class="unpriced">unpriced ({unpriced:,} items)</span>'
    return _usd(value) + note


def _usd(value: Decimal | None) -> str:
    if value is None:
        return "-"
    places = 2 if abs(value) >= 100 else 6
    return _e(f"${value:,.{places}f}")


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else _e(f"{value:.1f}%")


def _int(value: int | Decimal | None) -> str:
    return "-" if value is None else f"{int(value):,}"


def _money_of(rows: Sequence[Row], month: Any, model: str, column: str) -> float | None:
    values = [r[column] for r in rows if r["usage_month"] == month and r["model"] == model]
    return _float(_sum(values))


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _e(text: str | None) -> str:
    """HTML-escaped text; a missing value (a job whose model Together has not named yet)
    reads "(unknown)", as fct_batch_items names it."""
    return html.escape(UNKNOWN if text is None else text, quote=True)


def _short_model(model: str | None) -> str:
    return (model or UNKNOWN).split("/")[-1]


UNKNOWN = "(unknown)"

_CSS = """
body {
  font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px;
  padding: 0 24px 48px; color: #222;
}
header { border-bottom: 1px solid #ddd; margin-bottom: 8px; }
h1 { margin: 20px 0 8px; }
h2 { margin: 32px 0 4px; border-top: 1px solid #eee; padding-top: 16px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 8px 0; }
dt { font-weight: 600; }
dd { margin: 0; }
.demo {
  background: #fff3cd; border: 2px solid #e0a800; color: #7a5a00; font-weight: 700;
  padding: 8px 12px;
}
.note, .empty { color: #666; }
.unpriced { color: #c0392b; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 3px 10px; text-align: left; }
td { font-variant-numeric: tabular-nums; }
code { font-size: 12px; }
"""
