with

endpoint_windows as (

    select * from {{ ref('stg_prices__dedicated_endpoints') }}

),

listed_endpoints as (

    select * from {{ ref('stg_together__endpoints') }}

),

endpoint_names as (

    select
        endpoint_windows.provider,
        endpoint_windows.endpoint,
        false as is_listed_by_api

    from endpoint_windows

    union all

    select
        listed_endpoints.provider,
        listed_endpoints.endpoint,
        true as is_listed_by_api

    from listed_endpoints
    where listed_endpoints.endpoint_type = 'dedicated' and listed_endpoints.endpoint is not null

),

unioned as (

    select
        endpoint_names.provider,
        endpoint_names.endpoint,
        bool_or(endpoint_names.is_listed_by_api) as is_listed_by_api

    from endpoint_names
    group by endpoint_names.provider, endpoint_names.endpoint

)

select * from unioned
