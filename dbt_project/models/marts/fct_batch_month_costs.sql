with

items as (

    select * from {{ ref('fct_batch_items') }}
    where {{ is_batch_to_build('fct_batch_items.batch_id') }}

),

final as (

    select
        items.batch_id,
        items.usage_month,
        items.provider,
        items.model,
        {{ cost_sums('items') }},
        -- Items that used no tokens or audio (not processed, failed before running) are no use.
        min(items.used_at) filter (where items.total_tokens > 0 or items.audio_seconds > 0)
            as first_used_at,
        max(items.used_at) filter (where items.total_tokens > 0 or items.audio_seconds > 0)
            as last_used_at

    from items
    group by items.batch_id, items.usage_month, items.provider, items.model

)

select * from final
