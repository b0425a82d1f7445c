with

batch_day_costs as (

    select * from {{ ref('fct_batch_day_costs') }}

),

final as (

    select
        batch_day_costs.usage_date,
        batch_day_costs.usage_month,
        batch_day_costs.provider,
        batch_day_costs.model,
        count(distinct batch_day_costs.batch_id) as jobs,
        {{ cost_measures_from_sums('batch_day_costs') }}

    from batch_day_costs
    group by
        batch_day_costs.usage_date,
        batch_day_costs.usage_month,
        batch_day_costs.provider,
        batch_day_costs.model

)

select * from final
