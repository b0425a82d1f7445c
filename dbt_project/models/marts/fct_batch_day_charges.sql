with

items as (

    select * from {{ ref('fct_batch_items') }}
    where {{ is_batch_to_build('fct_batch_items.batch_id') }}

),

batches as (

    select * from {{ ref('stg_together__batches') }}

),

items_metered as (

    -- Each item's tokens split by what they are: uncached prompt, cached prompt (never more
    -- than the prompt) and completion tokens. A cached token bills at the cached rate where
    -- the price row has one, else at the input rate (int_batch_items_priced), so the split
    -- is the same whatever the rate.
    select
        items.*,
        least(coalesce(items.cached_prompt_tokens, 0), items.prompt_tokens)
            as cached_input_tokens

    from items

),

final as (

    select
        items_metered.batch_id,
        items_metered.usage_date,
        items_metered.usage_month,
        items_metered.provider,
        items_metered.model,
        items_metered.is_priced,
        items_metered.pricing_mode_applied,
        items_metered.billed_model_price_id,
        items_metered.realtime_model_price_id,
        items_metered.cohort,
        any_value(batches.user_id) as user_id,
        count(*) as items_total,
        cast(sum(items_metered.prompt_tokens - items_metered.cached_input_tokens) as bigint)
            as input_tokens,
        cast(sum(items_metered.cached_input_tokens) as bigint) as cached_input_tokens,
        cast(sum(items_metered.completion_tokens) as bigint) as output_tokens,
        cast(sum(items_metered.total_tokens) as bigint) as total_tokens,
        sum(items_metered.audio_seconds) as audio_seconds,
        sum(items_metered.audio_cost_usd) as audio_cost_usd,
        sum(items_metered.realtime_cost_usd) filter (where items_metered.is_audio)
            as realtime_audio_cost_usd,
        sum(items_metered.cost_usd) as cost_usd,
        sum(items_metered.realtime_cost_usd) as realtime_cost_usd,
        sum(items_metered.savings_usd) as savings_usd

    from items_metered
    left join batches
        on items_metered.batch_id = batches.batch_id
    -- Every column above that is not an aggregate: the grain in the description.
    group by all

)

select * from final
