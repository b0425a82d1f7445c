-- budget_status's spent_usd equals the same month's spend computed straight from
-- fct_batch_items, independently of cost_by_month and cost_by_cohort: the whole month for
-- `all`, the model for `model`, and the item's cohort map (item metadata winning over batch
-- tags) for any other key; plus the idle remainder of dedicated endpoints in `all` and under
-- '(dedicated idle)'. Fails with one row per budget that does not reconcile.
with

budgets as (

    select * from {{ ref('budget_status') }}

),

items as (

    select * from {{ ref('fct_batch_items') }}

),

idle_lines as (

    select * from {{ ref('dedicated_endpoint_costs') }}
    where line_kind = 'idle'

),

idle_spent as (

    -- The idle remainder of dedicated endpoints: in `all`, and under '(dedicated idle)'.
    select
        budgets.budget_month,
        budgets.scope_key,
        budgets.scope_value,
        coalesce(sum(idle_lines.cost_usd), 0) as idle_usd

    from budgets
    left join idle_lines
        on budgets.usage_month = idle_lines.usage_month
        and (budgets.scope_key = 'all' or budgets.scope_value = '(dedicated idle)')
    group by budgets.budget_month, budgets.scope_key, budgets.scope_value

),

item_spent as (

    select
        budgets.budget_month,
        budgets.scope_key,
        budgets.scope_value,
        coalesce(sum(items.cost_usd), 0) as item_spent_usd

    from budgets
    left join items
        on budgets.usage_month = items.usage_month
        and (
            budgets.scope_key = 'all'
            or (budgets.scope_key = 'model' and budgets.scope_value = items.model)
            or (
                budgets.scope_key not in ('all', 'model')
                and budgets.scope_value = map_extract_value(items.cohort, budgets.scope_key)
            )
        )
    group by budgets.budget_month, budgets.scope_key, budgets.scope_value

),

expected as (

    select
        item_spent.budget_month,
        item_spent.scope_key,
        item_spent.scope_value,
        item_spent.item_spent_usd + idle_spent.idle_usd as expected_spent_usd

    from item_spent
    inner join idle_spent
        on item_spent.budget_month = idle_spent.budget_month
        and item_spent.scope_key = idle_spent.scope_key
        and item_spent.scope_value = idle_spent.scope_value

)

select
    budgets.budget_month,
    budgets.scope_key,
    budgets.scope_value,
    budgets.spent_usd,
    expected.expected_spent_usd

from budgets
inner join expected
    on budgets.budget_month = expected.budget_month
    and budgets.scope_key = expected.scope_key
    and budgets.scope_value = expected.scope_value
where budgets.spent_usd != expected.expected_spent_usd
