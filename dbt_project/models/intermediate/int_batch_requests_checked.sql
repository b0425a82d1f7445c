with

batches as (

    select * from {{ ref('stg_together__batches') }}

),

batch_requests as (

    select * from {{ ref('stg_together__batch_requests') }}

),

input_files_to_build as (

    -- The input files of the batches this build computes (all of them on a full build).
    select batches.input_file_id from batches
    where {{ is_batch_to_build('batches.batch_id') }}

),

requests_to_build as (

    select * from batch_requests
    where input_file_id in (
        select input_files_to_build.input_file_id from input_files_to_build
    )

),

given_twice as (

    -- The custom_ids given more than once in one input file: rare, so only their lines are
    -- sorted below. Like the next step, read on narrow columns straight from the staging
    -- view, so the wide rows pass through once (see int_batch_results_checked).
    select
        input_file_id,
        custom_id

    from {{ ref('stg_together__batch_requests') }}
    where
        input_file_id in (
            select input_files_to_build.input_file_id from input_files_to_build
        )
    group by input_file_id, custom_id
    having count(*) > 1

),

duplicate_lines_ranked as (

    -- A custom_id given twice in one input file is one item: its first line. The later
    -- lines are flagged in data_quality_issues and never joined, so they cannot fan out
    -- the item grain.
    select
        duplicate_lines.input_file_id,
        duplicate_lines.input_line_number,
        row_number() over file_requests as request_rank,
        first_value(duplicate_lines.input_line_number) over file_requests
            as winning_input_line_number

    from {{ ref('stg_together__batch_requests') }} as duplicate_lines
    semi join given_twice
        on duplicate_lines.input_file_id is not distinct from given_twice.input_file_id
        and duplicate_lines.custom_id is not distinct from given_twice.custom_id
    window file_requests as (
        partition by duplicate_lines.input_file_id, duplicate_lines.custom_id
        order by duplicate_lines.input_line_number asc
    )

),

requests_ranked as (

    -- A line is one (input_file_id, input_line_number), the raw table's key.
    select
        requests_to_build.*,
        coalesce(duplicate_lines_ranked.request_rank, 1) as request_rank,
        coalesce(
            duplicate_lines_ranked.winning_input_line_number,
            requests_to_build.input_line_number
        ) as winning_input_line_number

    from requests_to_build
    left join duplicate_lines_ranked
        on requests_to_build.input_file_id = duplicate_lines_ranked.input_file_id
        and requests_to_build.input_line_number = duplicate_lines_ranked.input_line_number

)

select * from requests_ranked
