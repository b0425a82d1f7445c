-- Every costed billing window of a dedicated endpoint adds up, to the last decimal: its job
-- rows carry exactly the share of the time its jobs ran (macros/dedicated_endpoints.sql),
-- each job row is the sum of its items in fct_batch_items, job rows + idle row = the
-- window's cost, and the idle rows in cost_by_month are those of dedicated_endpoint_costs.
-- Fails with one row per window or month that does not.
with

lines as (

    select * from {{ ref('dedicated_endpoint_costs') }}

),

items as (

    select * from {{ ref('fct_batch_items') }}
    where endpoint_window_id is not null

),

months as (

    select * from {{ ref('cost_by_month') }}
    where charge_kind = 'dedicated_idle'

),

windows as (

    select
        lines.endpoint_window_id,
        any_value(lines.endpoint_cost_usd) as endpoint_cost_usd,
        any_value(lines.billed_seconds) as billed_seconds,
        any_value(cast(lines.busy_seconds * 1000 as bigint)) as busy_milliseconds,
        sum(lines.total_tokens) filter (where lines.line_kind = 'job') as window_tokens,
        coalesce(sum(lines.cost_usd) filter (where lines.line_kind = 'job'), 0) as jobs_usd,
        sum(lines.cost_usd) as lines_usd,
        count(*) filter (where lines.line_kind = 'idle') as idle_rows

    from lines
    where lines.is_costed
    group by lines.endpoint_window_id

),

window_checks as (

    select
        'window' as what,
        endpoint_window_id as id,
        lines_usd as actual_usd,
        endpoint_cost_usd as expected_usd

    from windows
    where
        lines_usd is distinct from endpoint_cost_usd
        or idle_rows != 1
        or jobs_usd != {{ dedicated_allocated_usd(
            'endpoint_cost_usd', 'busy_milliseconds', 'billed_seconds', 'coalesce(window_tokens, 0)'
        ) }}

),

item_sums as (

    select
        items.endpoint_window_id || '|job|' || items.batch_id as line_id,
        sum(items.cost_usd) as cost_usd

    from items
    group by items.endpoint_window_id, items.batch_id

),

job_lines as (

    select * from lines
    where line_kind = 'job'

),

job_checks as (

    select
        'job' as what,
        coalesce(job_lines.dedicated_cost_line_id, item_sums.line_id) as id,
        job_lines.cost_usd as actual_usd,
        item_sums.cost_usd as expected_usd

    from job_lines
    full outer join item_sums
        on job_lines.dedicated_cost_line_id = item_sums.line_id
    where job_lines.cost_usd is distinct from item_sums.cost_usd

),

idle_by_month as (

    select
        lines.usage_month,
        lines.endpoint,
        sum(lines.cost_usd) as cost_usd

    from lines
    where lines.line_kind = 'idle'
    group by lines.usage_month, lines.endpoint

),

month_checks as (

    select
        'month' as what,
        strftime(coalesce(months.usage_month, idle_by_month.usage_month), '%Y-%m') || ' '
        || coalesce(months.model, idle_by_month.endpoint) as id,
        months.cost_usd as actual_usd,
        idle_by_month.cost_usd as expected_usd

    from months
    full outer join idle_by_month
        on months.usage_month = idle_by_month.usage_month
        and months.model = idle_by_month.endpoint
    where months.cost_usd is distinct from idle_by_month.cost_usd

)

select * from window_checks
union all
select * from job_checks
union all
select * from month_checks
