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
        try_cast(usage as json) as usage_json

    from source

),

renamed as (

    -- Token counts are cast only from JSON integers: a string, a float, an object or an
    -- integer too big for BIGINT reads as null here, and int_batch_results_checked flags it.
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
        created as completion_created_unix,
        -- Seconds between 2000-01-01 and 2100-01-01 only: anything else is no usage time
        -- (to_timestamp would fail the build on some values, or put usage in year 50000).
        case
            when created between 946684800 and 4102444800
                then to_timestamp(created) at time zone 'UTC'
        end as completion_created_at,
        finish_reason,
        error_code,
        error_message,
        usage_json,
        usage_json is not null as has_usage,
        {{ json_integer('usage_json', '$.prompt_tokens') }} as prompt_tokens,
        -- Cached prompt tokens: OpenAI-style details, or a flat cached_tokens key.
        case
            when usage_json is not null then coalesce(
                {{ json_integer('usage_json', '$.prompt_tokens_details.cached_tokens') }},
                {{ json_integer('usage_json', '$.cached_tokens') }},
                0
            )
        end as cached_prompt_tokens,
        {{ json_integer('usage_json', '$.completion_tokens') }} as completion_tokens,
        {{ json_integer('usage_json', '$.total_tokens') }} as total_tokens,
        _dlt_load_id as load_id

    from usage_parsed

)

select * from renamed
