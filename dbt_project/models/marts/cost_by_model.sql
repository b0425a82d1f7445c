with

items as (

    select * from {{ ref('fct_batch_items') }}

),

final as (

    select
        items.provider,
        items.model,
        count(distinct items.batch_id) as jobs,
        {{ cost_measures('items') }},
        min(items.used_at) as first_used_at,
        max(items.used_at) as last_used_at

    from items
    group by items.provider, items.model

)

select * from final
