with

batch_month_costs as (

    select * from {{ ref('fct_batch_month_costs') }}

),

final as (

    select
        batch_month_costs.usage_month,
        batch_month_costs.provider,
        batch_month_costs.model,
        count(distinct batch_month_costs.batch_id) as jobs,
        {{ cost_measures_from_sums('batch_month_costs') }}

    from batch_month_costs
    group by batch_month_costs.usage_month, batch_month_costs.provider, batch_month_costs.model

)

select * from final
