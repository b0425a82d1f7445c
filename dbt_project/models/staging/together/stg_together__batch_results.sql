with

source as (

    {{ typed_source('together', 'batch_results', {
        'batch_id': 'varchar',
        'file_id': 'varchar',
        'file_kind': 'varchar',
        'line_number': 'bigint',
        'result_id': 'varchar',
        'custom_id': 'varchar',
        'status_code': 'integer',
        'usage': 'varchar',
        'model': 'varchar',
        'created': 'bigint',
        'finish_reason': 'varchar',
        'error_code': 'varchar',
        'error_message': 'varchar',
        '_dlt_load_id': 'varchar',
    }) }}

),

usage_parsed as (

    select
        *,
        cast(usage as json) as usage_json

    from source

),

renamed as (

    select
        batch_id,
        file_id as result_file_id,
        file_kind as result_file_kind,
        line_number as result_line_number,
        result_id,
        custom_id,
        status_code,
        coalesce(file_kind = 'output' and status_code = 200, false) as is_succeeded,
        model,
        to_timestamp(created) at time zone 'UTC' as completion_created_at,
        finish_reason,
        error_code,
        error_message,
        usage_json is not null as has_usage,
        cast(json_extract(usage_json, '$.prompt_tokens') as bigint) as prompt_tokens,
        -- Cached prompt tokens: OpenAI-style details, or a flat cached_tokens key.
        case
            when usage_json is not null then coalesce(
                cast(json_extract(usage_json, '$.prompt_tokens_details.cached_tokens') as bigint),
                cast(json_extract(usage_json, '$.cached_tokens') as bigint),
                0
            )
        end as cached_prompt_tokens,
        cast(json_extract(usage_json, '$.completion_tokens') as bigint) as completion_tokens,
        coalesce(
            cast(json_extract(usage_json, '$.total_tokens') as bigint),
            cast(json_extract(usage_json, '$.prompt_tokens') as bigint)
            + cast(json_extract(usage_json, '$.completion_tokens') as bigint)
        ) as total_tokens,
        _dlt_load_id as load_id

    from usage_parsed

)

select * from renamed
