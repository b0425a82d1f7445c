with

source as (

    select * from {{ ref('model_prices') }}

),

renamed as (

    select
        provider || '|' || model || '|' || pricing_mode || '|' || strftime(valid_from, '%Y-%m-%d')
            as model_price_id,
        provider,
        model,
        pricing_mode,
        usd_per_million_input_tokens,
        usd_per_million_output_tokens,
        usd_per_million_cached_input_tokens,
        usd_per_audio_minute,
        valid_from,
        valid_to,
        -- Rows are append-only, so valid_to is usually empty: a row's window then closes
        -- where the next row for the same provider, model and mode opens. An explicit
        -- valid_to (a time-boxed rate) closes it earlier; a later row always closes it, even
        -- before its valid_to (how an end is corrected without editing a row). least skips
        -- nulls. The same rule as batchledger.pricing.effective_windows.
        least(valid_to, lead(valid_from) over price_history) as effective_valid_to,
        source as price_source

    from source

    window price_history as (
        partition by provider, model, pricing_mode
        order by valid_from
    )

)

select * from renamed
