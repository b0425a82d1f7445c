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

    -- The first line of each custom_id in an input file; later ones are flagged.
    select * from {{ ref('int_batch_requests_checked') }}
    where request_rank = 1

),

batch_results as (

    -- The winning line of each request; the others are flagged (see the model).
    select * from {{ ref('int_batch_results_checked') }}
    where result_rank = 1

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

items as (

    select
        coalesce(requests_by_batch.batch_id, batch_results.batch_id) as batch_id,
        coalesce(requests_by_batch.custom_id, batch_results.custom_id) as custom_id,
        requests_by_batch.input_file_id,
        requests_by_batch.input_line_number,
        requests_by_batch.model as requested_model,
        requests_by_batch.metadata,
        batch_results.result_id,
        batch_results.result_file_id,
        batch_results.result_file_kind,
        batch_results.result_line_number,
        batch_results.status_code,
        batch_results.is_succeeded,
        batch_results.model as result_model,
        batch_results.completion_created_at,
        batch_results.finish_reason,
        batch_results.error_code,
        batch_results.error_message,
        batch_results.has_usage,
        batch_results.usage_issue,
        batch_results.created_issue,
        batch_results.prompt_tokens,
        batch_results.cached_prompt_tokens,
        batch_results.completion_tokens,
        batch_results.total_tokens,
        batch_results.audio_seconds,
        requests_by_batch.input_line_number is null as is_orphan,
        batch_results.result_line_number is not null as has_result

    from requests_by_batch
    full outer join batch_results
        on requests_by_batch.batch_id = batch_results.batch_id
        and requests_by_batch.custom_id = batch_results.custom_id

),

joined as (

    select
        items.batch_id || '/' || items.custom_id as batch_item_id,
        coalesce(batches.provider, 'together') as provider,
        items.batch_id,
        items.custom_id,
        -- '(unknown)' when nothing names a model: unpriced and listed, never a failed build.
        coalesce(items.requested_model, items.result_model, batches.model, '(unknown)') as model,
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
        items.usage_issue,
        items.created_issue,
        coalesce(items.prompt_tokens, 0) as prompt_tokens,
        coalesce(items.cached_prompt_tokens, 0) as cached_prompt_tokens,
        coalesce(items.completion_tokens, 0) as completion_tokens,
        coalesce(
            items.total_tokens,
            coalesce(items.prompt_tokens, 0) + coalesce(items.completion_tokens, 0)
        ) as total_tokens,
        coalesce(batches.is_audio, false) as is_audio,
        coalesce(items.audio_seconds, 0) as audio_seconds,
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
