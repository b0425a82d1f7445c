"""The figures of the spend report, read from the published marts (read-only).

Each section is one SQL query over the marts into a polars DataFrame; the page draws them and
carries them whole in a JSON block (money as exact decimal text), which the tests compare
with their own SQL. The small per-batch rollups are read, never the item mart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

# $month is the month the report is limited to (a DATE), or null for every month.
QUERIES: dict[str, str] = {
    # 1. Billed cost by month and model, with the real-time (serverless) equivalent.
    # A dedicated endpoint's idle remainder is a bar of its own: "<endpoint> (idle)".
    "spend_by_month": """
        select usage_month, provider,
            model || case when charge_kind = 'dedicated_idle' then ' (idle)' else '' end
                as model,
            items_total, unpriced_items, total_tokens, cost_usd, realtime_cost_usd
        from marts.cost_by_month
        where $month is null or usage_month = $month
        order by usage_month, provider, model, charge_kind
    """,
    # 2. What the batch discount saved, by month: over the items (an idle remainder has no
    # real-time equivalent).
    "savings_by_month": """
        select usage_month,
            sum(realtime_cost_usd) as realtime_cost_usd,
            sum(cost_usd) as cost_usd,
            sum(savings_usd) as savings_usd,
            round(100 * sum(savings_usd) / nullif(sum(realtime_cost_usd), 0), 1)
                as savings_percent
        from marts.cost_by_month
        where ($month is null or usage_month = $month) and charge_kind = 'usage'
        group by usage_month
        order by usage_month
    """,
    # 3. Spend per cohort key (team, project, ...) over the last three calendar months.
    "cohort_spend": """
        with last_month as (
            select coalesce($month, max(usage_month)) as usage_month from marts.cost_by_cohort
        )
        select cohorts.usage_month, cohorts.cohort_key, cohorts.cohort_value,
            cohorts.items_total, cohorts.unpriced_items, cohorts.cost_usd
        from marts.cost_by_cohort as cohorts, last_month
        where cohorts.usage_month <= last_month.usage_month
            and cohorts.usage_month > last_month.usage_month - interval 3 month
        order by cohorts.cohort_key, cohorts.usage_month, cohorts.cohort_value
    """,
    # 4. The ten costliest jobs: cost_by_job's figures, or with --month the job's items and
    # cost in that month (its per-batch month sums).
    "top_jobs": """
        with month_sums as (
            select batch_id,
                cast(sum(items_total) as bigint) as items_total,
                cast(sum(items_failed) as bigint) as items_failed,
                cast(sum(items_not_processed) as bigint) as items_not_processed,
                cast(sum(unpriced_items) as bigint) as unpriced_items,
                sum(cost_usd) as cost_usd
            from marts.fct_batch_month_costs
            where usage_month = $month
            group by batch_id
        ),
        figures as (
            select jobs.batch_id, jobs.model, jobs.status, jobs.is_cost_final, jobs.created_at,
                jobs.items_total, jobs.items_failed, jobs.items_not_processed,
                jobs.unpriced_items, jobs.cost_usd
            from marts.cost_by_job as jobs
            where $month is null
            union all
            select jobs.batch_id, jobs.model, jobs.status, jobs.is_cost_final, jobs.created_at,
                month_sums.items_total, month_sums.items_failed,
                month_sums.items_not_processed, month_sums.unpriced_items, month_sums.cost_usd
            from month_sums
            inner join marts.cost_by_job as jobs on month_sums.batch_id = jobs.batch_id
        )
        select batch_id, model, status, is_cost_final, items_total, items_failed,
            items_not_processed, unpriced_items, cost_usd
        from figures
        order by cost_usd desc nulls last, created_at desc, batch_id
        limit 10
    """,
    # 5. Logical jobs (a job and its retries) with failed or unprocessed items, or retries.
    "failures": """
        select root_batch_id, model, latest_status, jobs, items_total, items_failed,
            items_not_processed, unpriced_items, cost_usd, retry_cost_usd
        from marts.cost_by_logical_job
        where (has_failures or jobs > 1)
            and ($month is null or date_trunc('month', created_at) = $month)
        order by items_failed + items_not_processed desc, cost_usd desc nulls last,
            root_batch_id
    """,
    "failure_totals": """
        select
            cast(coalesce(sum(items_failed), 0) as bigint) as items_failed,
            cast(coalesce(sum(items_not_processed), 0) as bigint) as items_not_processed,
            coalesce(sum(retry_cost_usd), 0) as retry_cost_usd,
            count(*) filter (where jobs > 1) as retried_logical_jobs
        from marts.cost_by_logical_job
        where $month is null or date_trunc('month', created_at) = $month
    """,
    # 6. Budgets of the open month (or the --month one): spent, forecast, budget.
    "budgets": """
        with chosen as (
            select coalesce(
                $month,
                (select max(budget_month) from marts.budget_status where month_state = 'open'),
                (select max(budget_month) from marts.budget_status)
            ) as budget_month
        )
        select budgets.budget_month, budgets.month_state, budgets.scope_key,
            budgets.scope_value, budgets.budget_usd, budgets.spent_usd, budgets.forecast_usd,
            budgets.percent_used, budgets.forecast_percent, budgets.unpriced_items,
            budgets.as_of_at
        from marts.budget_status as budgets, chosen
        where budgets.budget_month = chosen.budget_month
        order by budgets.scope_key, budgets.scope_value
    """,
    # 7. Usage with no price (never $0) and the data-quality flags.
    "unpriced": """
        select provider, model,
            cast(sum(unpriced_items) as bigint) as unpriced_items,
            cast(sum(coalesce(total_tokens, 0) - coalesce(priced_total_tokens, 0)) as bigint)
                as unpriced_tokens
        from marts.fct_batch_month_costs
        where unpriced_items > 0 and ($month is null or usage_month = $month)
        group by provider, model
        order by unpriced_items desc, provider, model
    """,
    "data_quality": """
        select issue, effect, count(*) as lines, count(distinct batch_id) as jobs
        from marts.data_quality_issues
        group by issue, effect
        order by lines desc, issue
    """,
    "time_range": """
        select min(first_used_at) as first_used_at, max(last_used_at) as last_used_at
        from marts.fct_batch_month_costs
        where $month is null or usage_month = $month
    """,
}


@dataclass(frozen=True)
class ReportData:
    warehouse: Path
    demo: bool
    month: date | None
    built_at: datetime
    published_at: datetime
    frames: dict[str, pl.DataFrame]

    def rows(self, name: str) -> list[dict[str, Any]]:
        return self.frames[name].to_dicts()

    def figures(self) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready values (money as exact decimal text)."""
        return {
            "warehouse": str(self.warehouse),
            "demo": self.demo,
            "month": self.month.isoformat() if self.month else None,
            "built_at": self.built_at.isoformat(),
            "published_at": self.published_at.isoformat(),
            "sections": {name: [_jsonable(row) for row in self.rows(name)] for name in QUERIES},
        }


def read_report_data(db_path: Path, month: date | None = None, demo: bool = False) -> ReportData:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute("set enable_progress_bar = false")
        frames = {
            name: pl.from_arrow(
                con.sql(
                    query, params={"month": month} if "$month" in query else None
                ).to_arrow_table()
            )
            for name, query in QUERIES.items()
        }
    finally:
        con.close()
    return ReportData(
        warehouse=db_path,
        demo=demo,
        month=month,
        built_at=datetime.now(UTC).replace(microsecond=0),
        published_at=datetime.fromtimestamp(os.stat(db_path).st_mtime, UTC).replace(microsecond=0),
        frames={name: _frame(frame) for name, frame in frames.items()},
    )


def _frame(frame: pl.DataFrame | pl.Series) -> pl.DataFrame:
    return frame if isinstance(frame, pl.DataFrame) else frame.to_frame()


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, datetime | date):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out
