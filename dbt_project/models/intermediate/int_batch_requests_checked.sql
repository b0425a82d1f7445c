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

given_twice as (

    -- The custom_ids given more than once in one input file: rare, so only their lines are
    -- sorted below (see int_batch_results_checked).
    select
        input_file_id,
        custom_id

    from requests_to_build
    group by input_file_id, custom_id
    having count(*) > 1

),

requests_ranked as (

    -- A custom_id given twice in one input file is one item: its first line. The later
    -- lines are flagged in data_quality_issues and never joined, so they cannot fan out
    -- the item grain.
    select
        requests_to_build.*,
        1 as request_rank,
        requests_to_build.input_line_number as winning_input_line_number

    from requests_to_build
    anti join given_twice
        on requests_to_build.input_file_id is not distinct from given_twice.input_file_id
        and requests_to_build.custom_id is not distinct from given_twice.custom_id

    union all

    select
        requests_to_build.*,
        row_number() over file_requests as request_rank,
        first_value(requests_to_build.input_line_number) over file_requests
            as winning_input_line_number

    from requests_to_build
    semi join given_twice
        on requests_to_build.input_file_id is not distinct from given_twice.input_file_id
        and requests_to_build.custom_id is not distinct from given_twice.custom_id
    window file_requests as (
        partition by requests_to_build.input_file_id, requests_to_build.custom_id
        order by requests_to_build.input_line_number asc
    )

)

select * from requests_ranked
