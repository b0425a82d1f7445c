with

items as (

    select * from {{ ref('fct_batch_items') }}

),

final as (

    select
        items.usage_month,
        items.provider,
        items.model,
        count(distinct items.batch_id) as jobs,
        {{ cost_measures('items') }}

    from items
    group by items.usage_month, items.provider, items.model

)

select * from final
