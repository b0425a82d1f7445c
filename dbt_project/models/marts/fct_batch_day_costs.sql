with

items as (

    select * from {{ ref('fct_batch_items') }}
    where {{ is_batch_to_build('fct_batch_items.batch_id') }}

),

final as (

    select
        items.batch_id,
        cast(items.used_at as date) as usage_date,
        items.usage_month,
        items.provider,
        items.model,
        {{ cost_sums('items') }}

    from items
    group by
        items.batch_id,
        cast(items.used_at as date),
        items.usage_month,
        items.provider,
        items.model

)

select * from final
