-- budget_status's spent_usd equals the same month's spend computed straight from
-- fct_batch_items, independently of cost_by_month and cost_by_cohort: the whole month for
-- `all`, the model for `model`, and the item's cohort map (item metadata winning over batch
-- tags) for any other key. Fails with one row per budget that does not reconcile.
with

budgets as (

    select * from {{ ref('budget_status') }}

),

items as (

    select * from {{ ref('fct_batch_items') }}

),

expected as (

    select
        budgets.budget_month,
        budgets.scope_key,
        budgets.scope_value,
        coalesce(sum(items.cost_usd), 0) as expected_spent_usd

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
