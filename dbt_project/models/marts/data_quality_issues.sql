with

batches as (

    select * from {{ ref('stg_together__batches') }}

),

quarantined_lines as (

    select * from {{ ref('stg_together__quarantined_lines') }}
    where {{ is_batch_to_build('batch_id') }}

),

batch_results as (

    select * from {{ ref('int_batch_results_checked') }}

),

batch_requests as (

    select * from {{ ref('int_batch_requests_checked') }}

),

batch_items as (

    select * from {{ ref('fct_batch_items') }}
    where {{ is_batch_to_build('fct_batch_items.batch_id') }}

),

quarantine_issues as (

    select
        quarantined_lines.batch_id,
        'quarantined_line' as issue,
        quarantined_lines.file_id,
        quarantined_lines.file_kind,
        quarantined_lines.line_number,
        cast(null as varchar) as custom_id,
        cast(null as varchar) as model,
        quarantined_lines.quarantine_reason as detail,
        'not loaded; its text is in raw_together.quarantine' as effect

    from quarantined_lines

),

usage_issues as (

    select
        batch_results.batch_id,
        batch_results.usage_issue_kind as issue,
        batch_results.result_file_id as file_id,
        batch_results.result_file_kind as file_kind,
        batch_results.result_line_number as line_number,
        batch_results.custom_id,
        batch_results.model,
        batch_results.usage_issue as detail,
        case
            when batch_results.result_rank = 1
                then 'not priced: the item counts in unpriced_items, cost null'
            else 'not priced: the line is a duplicate, see duplicate_result_line'
        end as effect

    from batch_results
    where batch_results.usage_issue is not null

),

created_issues as (

    select
        batch_results.batch_id,
        'created_out_of_range' as issue,
        batch_results.result_file_id as file_id,
        batch_results.result_file_kind as file_kind,
        batch_results.result_line_number as line_number,
        batch_results.custom_id,
        batch_results.model,
        batch_results.created_issue as detail,
        'usage time is the job''s completed_at, else its created_at' as effect

    from batch_results
    where batch_results.created_issue is not null

),

duplicate_result_issues as (

    select
        batch_results.batch_id,
        'duplicate_result_line' as issue,
        batch_results.result_file_id as file_id,
        batch_results.result_file_kind as file_kind,
        batch_results.result_line_number as line_number,
        batch_results.custom_id,
        batch_results.model,
        'another line answers the same custom_id: '
        || batch_results.winning_result_line as detail,
        'not billed: the item is billed from '
        || batch_results.winning_result_line as effect

    from batch_results
    where batch_results.result_rank > 1

),

duplicate_request_issues as (

    -- A shared input file's duplicates are listed once per batch that reads it.
    select
        batches.batch_id,
        'duplicate_request_line' as issue,
        batch_requests.input_file_id as file_id,
        'input' as file_kind,
        batch_requests.input_line_number as line_number,
        batch_requests.custom_id,
        batch_requests.model,
        'custom_id already given on line '
        || batch_requests.winning_input_line_number as detail,
        'ignored: the item is the request on line '
        || batch_requests.winning_input_line_number as effect

    from batch_requests
    inner join batches
        on batch_requests.input_file_id = batches.input_file_id
    where
        batch_requests.request_rank > 1
        and {{ is_batch_to_build('batches.batch_id') }}

),

orphan_issues as (

    select
        batch_items.batch_id,
        'orphan_result' as issue,
        batch_items.result_file_id as file_id,
        batch_items.result_file_kind as file_kind,
        batch_items.result_line_number as line_number,
        batch_items.custom_id,
        batch_items.model,
        'no line of the input file has this custom_id' as detail,
        'billed as an item of its own, with the model its result line names' as effect

    from batch_items
    where batch_items.is_orphan

),

unioned as (

    select * from quarantine_issues
    union all
    select * from usage_issues
    union all
    select * from created_issues
    union all
    select * from duplicate_result_issues
    union all
    select * from duplicate_request_issues
    union all
    select * from orphan_issues

),

final as (

    select
        *,
        {{ build_id() }} as _build_id

    from unioned

)

select * from final
