with

batches as (

    select * from {{ ref('stg_together__batches') }}

),

batch_requests as (

    select * from {{ ref('stg_together__batch_requests') }}

),

batch_results as (

    select * from {{ ref('stg_together__batch_results') }}

),

dedicated_endpoints as (

    select * from {{ ref('int_dedicated_endpoints_unioned') }}

),

named as (

    -- Anything an item's model can come from (macros: int_batch_items_joined): the job's
    -- model_id, a request's body.model (joined on the input file) or a result's model.
    select
        batches.batch_id,
        batches.model

    from batches

    union

    select
        batches.batch_id,
        batch_requests.model

    from batch_requests
    inner join batches
        on batch_requests.input_file_id = batches.input_file_id
    where
        lower(batch_requests.model) in (
            select dedicated_endpoints.endpoint_key from dedicated_endpoints
        )

    union

    select
        batch_results.batch_id,
        batch_results.model

    from batch_results
    where lower(batch_results.model) in (
        select dedicated_endpoints.endpoint_key from dedicated_endpoints
    )

),

matched as (

    -- distinct: two spellings of one endpoint are one match.
    select distinct
        named.batch_id,
        dedicated_endpoints.provider,
        dedicated_endpoints.endpoint

    from named
    inner join dedicated_endpoints
        on lower(named.model) = dedicated_endpoints.endpoint_key

)

select * from matched
