-- Nothing lost, nothing billed twice: of the batches this build computed, every loaded
-- result line is either the one line an item of fct_batch_items is billed from, or flagged
-- as a duplicate_result_line in data_quality_issues, never both and never neither. Each
-- failure row names the line and how many times it was accounted for.
with

batch_results as (

    select * from {{ ref('stg_together__batch_results') }}
    where {{ is_batch_to_build('batch_id') }}

),

batch_items as (

    select * from {{ ref('fct_batch_items') }}
    where {{ is_batch_to_build('fct_batch_items.batch_id') }}

),

data_quality_issues as (

    select * from {{ ref('data_quality_issues') }}
    where {{ is_batch_to_build('data_quality_issues.batch_id') }}

),

accounted as (

    select
        batch_items.result_file_id as file_id,
        batch_items.result_line_number as line_number

    from batch_items
    where batch_items.result_file_id is not null

    union all

    select
        data_quality_issues.file_id,
        data_quality_issues.line_number

    from data_quality_issues
    where data_quality_issues.issue = 'duplicate_result_line'

),

accounted_counts as (

    select
        accounted.file_id,
        accounted.line_number,
        count(*) as times_accounted

    from accounted
    group by accounted.file_id, accounted.line_number

)

select
    coalesce(batch_results.result_file_id, accounted_counts.file_id) as file_id,
    coalesce(batch_results.result_line_number, accounted_counts.line_number) as line_number,
    batch_results.result_file_id is not null as is_loaded,
    coalesce(accounted_counts.times_accounted, 0) as times_accounted

from batch_results
full outer join accounted_counts
    on batch_results.result_file_id = accounted_counts.file_id
    and batch_results.result_line_number = accounted_counts.line_number
where
    batch_results.result_file_id is null
    or coalesce(accounted_counts.times_accounted, 0) <> 1
