-- Warns, one row per job, when a finished job names an output or error file whose lines
-- are not in the warehouse. Its items without a result stay 'pending' instead of being
-- called not_processed, so the job's counts are incomplete until the next ingest loads it.
{{ config(severity='warn') }}

with

jobs as (

    select * from {{ ref('cost_by_job') }}

)

select
    jobs.batch_id,
    jobs.status,
    jobs.output_file_id,
    jobs.error_file_id,
    jobs.items_pending

from jobs
where jobs.is_terminal and not jobs.has_result_files_loaded
