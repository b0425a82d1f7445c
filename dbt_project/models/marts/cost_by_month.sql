with

batch_month_costs as (

    select * from {{ ref('fct_batch_month_costs') }}

),

dedicated_endpoint_costs as (

    select * from {{ ref('dedicated_endpoint_costs') }}

),

usage_rows as (

    select
        batch_month_costs.usage_month,
        batch_month_costs.provider,
        batch_month_costs.model,
        'usage' as charge_kind,
        count(distinct batch_month_costs.batch_id) as jobs,
        {{ cost_measures_from_sums('batch_month_costs') }}

    from batch_month_costs
    group by batch_month_costs.usage_month, batch_month_costs.provider, batch_month_costs.model

),

idle_rows as (

    -- The idle remainder of each dedicated endpoint's windows: a row with no job, its model
    -- the endpoint.
    select
        dedicated_endpoint_costs.usage_month,
        dedicated_endpoint_costs.provider,
        dedicated_endpoint_costs.endpoint as model,
        'dedicated_idle' as charge_kind,
        {{ dedicated_idle_measures('sum(dedicated_endpoint_costs.cost_usd)') }}

    from dedicated_endpoint_costs
    where dedicated_endpoint_costs.line_kind = 'idle'
    group by
        dedicated_endpoint_costs.usage_month,
        dedicated_endpoint_costs.provider,
        dedicated_endpoint_costs.endpoint

),

final as (

    select * from usage_rows
    union all by name
    select * from idle_rows

)

select * from final
