with

batches as (

    select * from {{ ref('stg_together__batches') }}

),

batch_requests as (

    select * from {{ ref('stg_together__batch_requests') }}

),

requests_to_build as (

    -- The input files of the batches this build computes (all of them on a full build).
    select * from batch_requests
    where input_file_id in (
        select batches.input_file_id from batches
        where {{ is_batch_to_build('batches.batch_id') }}
    )

),

requests_ranked as (

    -- A custom_id given twice in one input file is one item: its first line. The later
    -- lines are flagged in data_quality_issues and never joined, so they cannot fan out
    -- the item grain.
    select
        *,
        row_number() over file_requests as request_rank,
        first_value(input_line_number) over file_requests as winning_input_line_number

    from requests_to_build
    window file_requests as (
        partition by input_file_id, custom_id
        order by input_line_number asc
    )

)

select * from requests_ranked
