with

batch_items as (

    select * from {{ ref('int_batch_items_joined') }}

),

model_prices as (

    select * from {{ ref('stg_prices__model_prices') }}

),

batch_prices as (

    select * from model_prices
    where pricing_mode = 'batch'

),

serverless_prices as (

    select * from model_prices
    where pricing_mode = 'serverless'

),

items_timed as (

    -- Usage time: the completion's created stamp, else the job's completion, else its
    -- creation. All three are UTC timestamps, so the date and month are UTC too.
    select
        * replace (coalesce(is_audio, false) as is_audio),
        coalesce(completion_created_at, job_completed_at, job_created_at) as used_at

    from batch_items

),

items_dated as (

    select
        *,
        cast(used_at as date) as usage_date,
        cast(date_trunc('month', used_at) as date) as usage_month

    from items_timed

),

items_rated as (

    select
        items_dated.*,
        batch_prices.model_price_id as batch_model_price_id,
        batch_prices.usd_per_million_input_tokens as batch_usd_per_million_input_tokens,
        batch_prices.usd_per_million_output_tokens as batch_usd_per_million_output_tokens,
        batch_prices.usd_per_million_cached_input_tokens
            as batch_usd_per_million_cached_input_tokens,
        serverless_prices.model_price_id as realtime_model_price_id,
        serverless_prices.usd_per_million_input_tokens as realtime_usd_per_million_input_tokens,
        serverless_prices.usd_per_million_output_tokens as realtime_usd_per_million_output_tokens,
        serverless_prices.usd_per_million_cached_input_tokens
            as realtime_usd_per_million_cached_input_tokens,
        batch_prices.usd_per_audio_minute as batch_usd_per_audio_minute,
        serverless_prices.usd_per_audio_minute as realtime_usd_per_audio_minute

    from items_dated
    left join batch_prices
        on {{ price_in_force('items_dated', 'batch_prices') }}
    left join serverless_prices
        on {{ price_in_force('items_dated', 'serverless_prices') }}

),

items_rateable as (

    -- A row prices an item only when it has the item's kind of rate: the audio rate for an
    -- audio item (per minute of audio), both token rates for any other. A row without it
    -- counts as no row, so an item of that kind is never priced at $0.
    select
        * replace (
            case
                when is_audio and batch_usd_per_audio_minute is not null
                    then batch_model_price_id
                when
                    not is_audio
                    and batch_usd_per_million_input_tokens is not null
                    and batch_usd_per_million_output_tokens is not null
                    then batch_model_price_id
            end as batch_model_price_id,
            case
                when is_audio and realtime_usd_per_audio_minute is not null
                    then realtime_model_price_id
                when
                    not is_audio
                    and realtime_usd_per_million_input_tokens is not null
                    and realtime_usd_per_million_output_tokens is not null
                    then realtime_model_price_id
            end as realtime_model_price_id
        )

    from items_rated

),

items_billed as (

    -- The billed rate is the batch row in force, else the serverless row (Together bills
    -- models without a batch discount at standard rates), else none: unpriced, cost null.
    select
        *,
        case
            when batch_model_price_id is not null then 'batch'
            when realtime_model_price_id is not null then 'serverless'
        end as pricing_mode_applied,
        coalesce(batch_model_price_id, realtime_model_price_id) as billed_model_price_id,
        case
            when batch_model_price_id is not null then batch_usd_per_million_input_tokens
            else realtime_usd_per_million_input_tokens
        end as billed_usd_per_million_input_tokens,
        case
            when batch_model_price_id is not null then batch_usd_per_million_output_tokens
            else realtime_usd_per_million_output_tokens
        end as billed_usd_per_million_output_tokens,
        case
            when batch_model_price_id is not null then batch_usd_per_million_cached_input_tokens
            else realtime_usd_per_million_cached_input_tokens
        end as billed_usd_per_million_cached_input_tokens,
        case
            when batch_model_price_id is not null then batch_usd_per_audio_minute
            else realtime_usd_per_audio_minute
        end as billed_usd_per_audio_minute

    from items_rateable

),

items_split as (

    -- Cached prompt tokens are billed at the cached rate only where the row has one;
    -- without one they stay in the input-rate share.
    select
        *,
        case
            when billed_usd_per_million_cached_input_tokens is not null
                then least(cached_prompt_tokens, prompt_tokens)
            else 0
        end as billed_cached_prompt_tokens,
        case
            when realtime_usd_per_million_cached_input_tokens is not null
                then least(cached_prompt_tokens, prompt_tokens)
            else 0
        end as realtime_cached_prompt_tokens

    from items_billed

),

items_costed as (

    -- Flagged usage (usage_issue) is never money: its item is unpriced, cost null, like an
    -- item with no price row. An audio item costs its seconds at the per-minute rate and
    -- no tokens; any other item costs its tokens and no audio.
    select
        *,
        pricing_mode_applied is not null and usage_issue is null as is_priced,
        case
            when pricing_mode_applied is not null and usage_issue is null then
                case
                    when is_audio then cast(0 as decimal(38, 18))
                    else {{ input_cost_usd(
                        'prompt_tokens',
                        'billed_cached_prompt_tokens',
                        'billed_usd_per_million_input_tokens',
                        'billed_usd_per_million_cached_input_tokens'
                    ) }}
                end
        end as input_cost_usd,
        case
            when pricing_mode_applied is not null and usage_issue is null then
                case
                    when is_audio then cast(0 as decimal(38, 18))
                    else {{ usd_for_tokens(
                        'completion_tokens', 'billed_usd_per_million_output_tokens'
                    ) }}
                end
        end as output_cost_usd,
        case
            when pricing_mode_applied is not null and usage_issue is null then
                case
                    when is_audio then {{ usd_for_audio_seconds(
                        'audio_seconds', 'billed_usd_per_audio_minute'
                    ) }}
                    else cast(0 as decimal(38, 18))
                end
        end as audio_cost_usd,
        case
            when realtime_model_price_id is not null and usage_issue is null then
                case
                    when is_audio then {{ usd_for_audio_seconds(
                        'audio_seconds', 'realtime_usd_per_audio_minute'
                    ) }}
                    else
                        {{ input_cost_usd(
                            'prompt_tokens',
                            'realtime_cached_prompt_tokens',
                            'realtime_usd_per_million_input_tokens',
                            'realtime_usd_per_million_cached_input_tokens'
                        ) }}
                        + {{ usd_for_tokens(
                            'completion_tokens',
                            'realtime_usd_per_million_output_tokens'
                        ) }}
                end
        end as realtime_cost_usd

    from items_split

),

priced as (

    select
        * exclude (
            batch_model_price_id,
            batch_usd_per_million_input_tokens,
            batch_usd_per_million_output_tokens,
            batch_usd_per_million_cached_input_tokens,
            batch_usd_per_audio_minute
        ),
        input_cost_usd + output_cost_usd + audio_cost_usd as cost_usd,
        realtime_cost_usd - (input_cost_usd + output_cost_usd + audio_cost_usd) as savings_usd

    from items_costed

)

select * from priced
