with

batches as (

    select * from {{ ref('stg_together__batches') }}

),

batches_to_build as (

    -- Every batch on a full build; on an incremental one, the batches whose inputs changed.
    select * from batches
    where {{ is_batch_to_build('batches.batch_id') }}

),

batch_requests as (

    select * from {{ ref('stg_together__batch_requests') }}

),

batch_results as (

    select * from {{ ref('stg_together__batch_results') }}
    where {{ is_batch_to_build('batch_id') }}

),

batch_files as (

    select * from {{ ref('int_batch_files_checked') }}

),

requests_by_batch as (

    -- One input file can feed several batches, so requests join on the file, not on the
    -- batch the loader happened to record.
    select
        batches.batch_id,
        batch_requests.custom_id,
        batch_requests.input_file_id,
        batch_requests.input_line_number,
        batch_requests.model,
        batch_requests.metadata

    from batches_to_build as batches
    inner join batch_requests
        on batches.input_file_id = batch_requests.input_file_id

),

results_ranked as (

    -- A second result line for one request fails assert_one_result_line_per_item; keeping
    -- one here only stops it from fanning out the item grain meanwhile.
    select
        *,
        row_number() over (
            partition by batch_id, custom_id
            order by
                is_succeeded desc,
                result_file_kind desc,
                result_file_id asc,
                result_line_number asc
        ) as result_rank

    from batch_results

),

results_deduplicated as (

    select * exclude (result_rank)
    from results_ranked
    where result_rank = 1

),

items as (

    select
        coalesce(requests_by_batch.batch_id, results_deduplicated.batch_id) as batch_id,
        coalesce(requests_by_batch.custom_id, results_deduplicated.custom_id) as custom_id,
        requests_by_batch.input_file_id,
        requests_by_batch.input_line_number,
        requests_by_batch.model as requested_model,
        requests_by_batch.metadata,
        results_deduplicated.result_id,
        results_deduplicated.result_file_id,
        results_deduplicated.result_file_kind,
        results_deduplicated.result_line_number,
        results_deduplicated.status_code,
        results_deduplicated.is_succeeded,
        results_deduplicated.model as result_model,
        results_deduplicated.completion_created_at,
        results_deduplicated.finish_reason,
        results_deduplicated.error_code,
        results_deduplicated.error_message,
        results_deduplicated.has_usage,
        results_deduplicated.prompt_tokens,
        results_deduplicated.cached_prompt_tokens,
        results_deduplicated.completion_tokens,
        results_deduplicated.total_tokens,
        requests_by_batch.input_line_number is null as is_orphan,
        results_deduplicated.result_line_number is not null as has_result

    from requests_by_batch
    full outer join results_deduplicated
        on requests_by_batch.batch_id = results_deduplicated.batch_id
        and requests_by_batch.custom_id = results_deduplicated.custom_id

),

joined as (

    select
        items.batch_id || '/' || items.custom_id as batch_item_id,
        coalesce(batches.provider, 'together') as provider,
        items.batch_id,
        items.custom_id,
        coalesce(items.requested_model, items.result_model, batches.model) as model,
        case
            when items.is_succeeded then 'succeeded'
            when items.has_result then 'failed'
            when batches.is_terminal and batch_files.has_result_files_loaded then 'not_processed'
            -- No result yet: the job is still running, or its result files are not loaded.
            else 'pending'
        end as item_status,
        items.is_orphan,
        items.input_file_id,
        items.input_line_number,
        items.metadata,
        items.result_id,
        items.result_file_id,
        items.result_file_kind,
        items.result_line_number,
        items.status_code,
        items.finish_reason,
        items.error_code,
        items.error_message,
        coalesce(items.has_usage, false) as has_usage,
        coalesce(items.prompt_tokens, 0) as prompt_tokens,
        coalesce(items.cached_prompt_tokens, 0) as cached_prompt_tokens,
        coalesce(items.completion_tokens, 0) as completion_tokens,
        coalesce(
            items.total_tokens,
            coalesce(items.prompt_tokens, 0) + coalesce(items.completion_tokens, 0)
        ) as total_tokens,
        items.completion_created_at,
        batches.created_at as job_created_at,
        batches.completed_at as job_completed_at

    from items
    left join batches
        on items.batch_id = batches.batch_id
    left join batch_files
        on items.batch_id = batch_files.batch_id

)

select * from joined
