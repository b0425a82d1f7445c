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

file_loads as (

    select * from {{ ref('stg_together__file_loads') }}

),

loaded_files as (

    -- A file counts as loaded when the ingest recorded the load or any of its lines arrived.
    select file_id from file_loads
    union
    select input_file_id as file_id from batch_requests
    union
    select result_file_id as file_id from batch_results

),

checked as (

    select
        batches.batch_id,
        batches.input_file_id,
        batches.output_file_id,
        batches.error_file_id,
        input_loads.file_id is not null as has_input_file_loaded,
        (batches.output_file_id is null or output_loads.file_id is not null)
        and (batches.error_file_id is null or error_loads.file_id is not null)
            as has_result_files_loaded

    from batches
    left join loaded_files as input_loads
        on batches.input_file_id = input_loads.file_id
    left join loaded_files as output_loads
        on batches.output_file_id = output_loads.file_id
    left join loaded_files as error_loads
        on batches.error_file_id = error_loads.file_id

)

select * from checked
