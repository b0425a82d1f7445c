with

endpoint_windows as (

    select * from {{ ref('stg_prices__dedicated_endpoints') }}

),

listed_endpoints as (

    select * from {{ ref('stg_together__endpoints') }}

),

model_prices as (

    select * from {{ ref('stg_prices__model_prices') }}

),

priced_models as (

    -- Models with a token price (serverless or batch). A name the API lists as a dedicated
    -- endpoint that is also one of these would turn every past serverless job on that model
    -- into an unpriced dedicated one: only the dedicated seed can make it dedicated.
    select distinct
        model_prices.provider,
        lower(model_prices.model) as endpoint_key

    from model_prices

),

endpoint_names as (

    -- Endpoint names are matched case-insensitively (as model ids are in practice); the
    -- seed's spelling wins over the API's, so the marts show the name finance wrote down.
    select
        endpoint_windows.provider,
        endpoint_windows.endpoint,
        false as is_listed_by_api,
        0 as spelling_rank

    from endpoint_windows

    union all

    select
        listed_endpoints.provider,
        listed_endpoints.endpoint,
        true as is_listed_by_api,
        1 as spelling_rank

    from listed_endpoints
    left join priced_models
        on listed_endpoints.provider = priced_models.provider
        and lower(listed_endpoints.endpoint) = priced_models.endpoint_key
    where
        listed_endpoints.endpoint_type = 'dedicated'
        and listed_endpoints.endpoint is not null
        and priced_models.endpoint_key is null

),

unioned as (

    select
        endpoint_names.provider,
        lower(endpoint_names.endpoint) as endpoint_key,
        arg_min(endpoint_names.endpoint, endpoint_names.spelling_rank) as endpoint,
        bool_or(endpoint_names.is_listed_by_api) as is_listed_by_api

    from endpoint_names
    group by endpoint_names.provider, lower(endpoint_names.endpoint)

)

select * from unioned
