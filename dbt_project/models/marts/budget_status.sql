{%- set budget_as_of = var('budget_as_of', '') -%}
{%- set as_of_override = "cast('" ~ budget_as_of ~ "' as timestamp)" if budget_as_of else "null" -%}

with

budgets as (

    select * from {{ ref('stg_batchledger__budgets') }}

),

months as (

    select * from {{ ref('cost_by_month') }}

),

cohorts as (

    select * from {{ ref('cost_by_cohort') }}

),

items as (

    select * from {{ ref('fct_batch_items') }}

),

clock as (

    -- The moment month-to-date spend is measured at: var('budget_as_of') when set, else the
    -- latest usage time in the warehouse (its own clock: reproducible, and the demo's "now").
    select
        coalesce(
            {{ as_of_override }},
            max(items.used_at),
            cast(now() at time zone 'UTC' as timestamp)
        ) as as_of_at

    from items

),

spend_total as (

    select
        months.usage_month,
        sum(months.cost_usd) as cost_usd,
        cast(sum(months.unpriced_items) as bigint) as unpriced_items

    from months
    group by months.usage_month

),

spend_by_model as (

    -- A dedicated endpoint's idle remainder is no model's usage: scope value '(dedicated
    -- idle)', as in cost_by_cohort.
    select
        months.usage_month,
        case
            when months.charge_kind = 'dedicated_idle' then '(dedicated idle)' else months.model
        end as model,
        sum(months.cost_usd) as cost_usd,
        cast(sum(months.unpriced_items) as bigint) as unpriced_items

    from months
    group by all

),

budgets_spent as (

    -- `all` is the month's total, `model` a model's spend, any other key a cohort's.
    select
        budgets.budget_month,
        budgets.usage_month,
        budgets.scope_key,
        budgets.scope_value,
        budgets.budget_usd,
        cast(
            coalesce(
                case
                    when budgets.scope_key = 'all' then spend_total.cost_usd
                    when budgets.scope_key = 'model' then spend_by_model.cost_usd
                    else cohorts.cost_usd
                end,
                0
            ) as decimal(38, 18)
        ) as spent_usd,
        cast(
            coalesce(
                case
                    when budgets.scope_key = 'all' then spend_total.unpriced_items
                    when budgets.scope_key = 'model' then spend_by_model.unpriced_items
                    else cohorts.unpriced_items
                end,
                0
            ) as bigint
        ) as unpriced_items

    from budgets
    left join spend_total
        on budgets.scope_key = 'all'
        and budgets.usage_month = spend_total.usage_month
    left join spend_by_model
        on budgets.scope_key = 'model'
        and budgets.usage_month = spend_by_model.usage_month
        and budgets.scope_value = spend_by_model.model
    left join cohorts
        on budgets.usage_month = cohorts.usage_month
        and budgets.scope_key = cohorts.cohort_key
        and budgets.scope_value = cohorts.cohort_value

),

budgets_timed as (

    select
        budgets_spent.*,
        clock.as_of_at,
        date_diff(
            'second',
            cast(budgets_spent.usage_month as timestamp),
            cast(budgets_spent.usage_month + interval 1 month as timestamp)
        ) as month_seconds,
        date_diff(
            'second', cast(budgets_spent.usage_month as timestamp), clock.as_of_at
        ) as seconds_since_month_start

    from budgets_spent
    cross join clock

),

budgets_dated as (

    select
        *,
        case
            when seconds_since_month_start >= month_seconds then 'closed'
            when seconds_since_month_start > 0 then 'open'
            else 'not_started'
        end as month_state,
        least(greatest(seconds_since_month_start, 0), month_seconds) as elapsed_seconds

    from budgets_timed

),

budgets_forecast as (

    -- Month-end forecast at the month's burn rate so far: spent / elapsed fraction of the
    -- month. A closed month's forecast is what it spent; a month not started has none.
    select
        *,
        case
            when month_state = 'closed' then spent_usd
            when month_state = 'open' then
                {{ usd_scaled('spent_usd', 'month_seconds', 'elapsed_seconds') }}
        end as forecast_usd

    from budgets_dated

),

final as (

    select
        -- The month as a DATE (its first day) like every other month; the seed's text
        -- YYYY-MM stays in staging.
        usage_month as budget_month,
        usage_month,
        scope_key,
        scope_value,
        budget_usd,
        spent_usd,
        cast(budget_usd - spent_usd as decimal(38, 18)) as remaining_usd,
        {{ percent_of('spent_usd', 'budget_usd') }} as percent_used,
        forecast_usd,
        {{ percent_of('forecast_usd', 'budget_usd') }} as forecast_percent,
        unpriced_items,
        month_state,
        {{ percent_of('elapsed_seconds', 'month_seconds') }} as month_elapsed_percent,
        as_of_at

    from budgets_forecast

)

select * from final
