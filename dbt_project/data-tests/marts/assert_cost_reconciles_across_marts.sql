-- The cost, realtime cost, savings, item and token totals are the same in fct_batch_items,
-- cost_by_job, cost_by_model, cost_by_month (its usage rows; assert_dedicated_costs_reconcile
-- checks its idle rows) and cost_by_day. Fails with one row per mart
-- that differs from fct_batch_items.
{%- set rollups = [
    ('cost_by_job', 'jobs'),
    ('cost_by_model', 'models'),
    ('cost_by_month', 'months'),
    ('cost_by_day', 'days'),
] %}

with

items as (

    select * from {{ ref('fct_batch_items') }}

),

jobs as (

    select * from {{ ref('cost_by_job') }}

),

models as (

    select * from {{ ref('cost_by_model') }}

),

months as (

    -- The idle remainder of dedicated endpoints is in cost_by_month only: not an item's.
    select * from {{ ref('cost_by_month') }}
    where charge_kind = 'usage'

),

days as (

    select * from {{ ref('cost_by_day') }}

),

item_totals as (

    select
        'fct_batch_items' as mart,
        sum(cost_usd) as cost_usd,
        sum(realtime_cost_usd) as realtime_cost_usd,
        sum(savings_usd) as savings_usd,
        count(*) as items_total,
        coalesce(cast(sum(total_tokens) as bigint), 0) as total_tokens,
        count(*) filter (where not is_priced) as unpriced_items
    from items

),

rollup_totals as (

    {% for mart, cte in rollups %}
        select
            '{{ mart }}' as mart,
            sum(cost_usd) as cost_usd,
            sum(realtime_cost_usd) as realtime_cost_usd,
            sum(savings_usd) as savings_usd,
            coalesce(sum(items_total), 0) as items_total,
            coalesce(cast(sum(total_tokens) as bigint), 0) as total_tokens,
            coalesce(sum(unpriced_items), 0) as unpriced_items
        from {{ cte }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    rollup_totals.*,
    item_totals.cost_usd as expected_cost_usd,
    item_totals.items_total as expected_items_total

from rollup_totals
cross join item_totals
where
    rollup_totals.cost_usd is distinct from item_totals.cost_usd
    or rollup_totals.realtime_cost_usd is distinct from item_totals.realtime_cost_usd
    or rollup_totals.savings_usd is distinct from item_totals.savings_usd
    or rollup_totals.items_total is distinct from item_totals.items_total
    or rollup_totals.total_tokens is distinct from item_totals.total_tokens
    or rollup_totals.unpriced_items is distinct from item_totals.unpriced_items
