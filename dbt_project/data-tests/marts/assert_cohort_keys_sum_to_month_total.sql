-- In cost_by_cohort every cohort key covers each month completely: its rows (including
-- '(unassigned)') add up to that month's items, tokens and cost in cost_by_month. Fails
-- with one row per month and key that is missing or does not add up.
with

months as (

    select * from {{ ref('cost_by_month') }}

),

cohorts as (

    select * from {{ ref('cost_by_cohort') }}

),

month_totals as (

    select
        usage_month,
        sum(items_total) as items_total,
        cast(sum(total_tokens) as bigint) as total_tokens,
        sum(cost_usd) as cost_usd
    from months
    group by usage_month

),

cohort_keys as (

    select distinct cohort_key from cohorts

),

key_totals as (

    select
        usage_month,
        cohort_key,
        sum(items_total) as items_total,
        cast(sum(total_tokens) as bigint) as total_tokens,
        sum(cost_usd) as cost_usd
    from cohorts
    group by usage_month, cohort_key

)

select
    month_totals.usage_month,
    cohort_keys.cohort_key,
    month_totals.cost_usd as month_cost_usd,
    key_totals.cost_usd as key_cost_usd,
    month_totals.items_total as month_items,
    key_totals.items_total as key_items

from month_totals
cross join cohort_keys
left join key_totals
    on month_totals.usage_month is not distinct from key_totals.usage_month
    and cohort_keys.cohort_key = key_totals.cohort_key
where
    key_totals.cohort_key is null
    or key_totals.items_total != month_totals.items_total
    or key_totals.total_tokens != month_totals.total_tokens
    or key_totals.cost_usd is distinct from month_totals.cost_usd
