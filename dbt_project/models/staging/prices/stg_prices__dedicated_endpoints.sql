with

source as (

    select * from {{ ref('dedicated_endpoints') }}

),

renamed as (

    select
        provider || '|' || endpoint || '|' || strftime(billed_from, '%Y-%m-%d %H:%M:%S')
            as endpoint_window_id,
        provider,
        endpoint,
        model as endpoint_model,
        hardware,
        usd_per_hour,
        billed_from,
        billed_to,
        date_diff('second', billed_from, billed_to) as billed_seconds,
        cast(date_trunc('month', billed_from) as date) as usage_month,
        source as price_source

    from source

)

select * from renamed
