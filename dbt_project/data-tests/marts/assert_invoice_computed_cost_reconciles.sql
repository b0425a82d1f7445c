-- invoice_reconciliation's computed side is the warehouse's billed cost: a `month` row
-- equals the month's priced items summed straight from fct_batch_items plus the idle
-- remainder of its dedicated endpoint windows (billed, though no job ran), and in a month with
-- `model` rows those rows add up to the month row. Fails with one row per month that
-- does not reconcile.
with

reconciliation as (

    select * from {{ ref('invoice_reconciliation') }}

),

items as (

    select * from {{ ref('fct_batch_items') }}

),

dedicated_endpoint_costs as (

    select * from {{ ref('dedicated_endpoint_costs') }}

),

billed_rows as (

    select
        items.usage_month,
        items.cost_usd
    from items
    union all
    select
        dedicated_endpoint_costs.usage_month,
        dedicated_endpoint_costs.cost_usd
    from dedicated_endpoint_costs
    where dedicated_endpoint_costs.line_kind = 'idle'

),

item_months as (

    select
        billed_rows.usage_month,
        coalesce(sum(billed_rows.cost_usd), 0) as billed_usd

    from billed_rows
    group by billed_rows.usage_month

),

month_rows as (

    select * from reconciliation
    where reconciliation_level = 'month'

),

model_sums as (

    select
        reconciliation.invoice_month,
        sum(reconciliation.computed_billed_usd) as computed_billed_usd

    from reconciliation
    where reconciliation.reconciliation_level = 'model'
    group by reconciliation.invoice_month

)

select
    month_rows.invoice_month,
    month_rows.computed_billed_usd,
    coalesce(item_months.billed_usd, 0) as billed_from_items_usd,
    model_sums.computed_billed_usd as sum_of_model_rows_usd

from month_rows
left join item_months
    on month_rows.invoice_month = item_months.usage_month
left join model_sums
    on month_rows.invoice_month = model_sums.invoice_month
where
    month_rows.computed_billed_usd != coalesce(item_months.billed_usd, 0)
    or month_rows.computed_billed_usd != coalesce(
        model_sums.computed_billed_usd, month_rows.computed_billed_usd
    )
