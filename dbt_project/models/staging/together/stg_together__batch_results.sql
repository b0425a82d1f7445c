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
        'audio_duration': 'varchar',
        '_dlt_load_id': 'varchar',
    }) }}

),

usage_parsed as (

    select
        *,
        try_cast(usage as json) as usage_json

    from source

),

usage_extracted as (

    -- Every usage field, found with one parse of the usage object: each json_* call on the
    -- object parses it again, and one per field and check was the largest cost of a full
    -- build at 10M items. A missing field is null, a JSON null is 'null'.
    select
        *,
        json_extract(usage_json, [
            '$.prompt_tokens',
            '$.completion_tokens',
            '$.total_tokens',
            '$.cached_tokens',
            '$.prompt_tokens_details.cached_tokens'
        ]) as usage_fields

    from usage_parsed

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
        usage_fields[1] as prompt_tokens_json,
        usage_fields[2] as completion_tokens_json,
        usage_fields[3] as total_tokens_json,
        usage_fields[4] as cached_tokens_json,
        usage_fields[5] as prompt_tokens_details_cached_tokens_json,
        {{ json_integer('usage_fields[1]') }} as prompt_tokens,
        -- Cached prompt tokens: OpenAI-style details, or a flat cached_tokens key.
        case
            when usage_json is not null then coalesce(
                {{ json_integer('usage_fields[5]') }},
                {{ json_integer('usage_fields[4]') }},
                0
            )
        end as cached_prompt_tokens,
        {{ json_integer('usage_fields[2]') }} as completion_tokens,
        {{ json_integer('usage_fields[3]') }} as total_tokens,
        -- An audio result's duration: the JSON text as given, and as seconds when it is a
        -- JSON number, read from its text as DECIMAL (never a float) and rounded half up to
        -- the microsecond. A string, a boolean or an object reads as null here, and
        -- int_batch_results_checked flags it.
        audio_duration as audio_duration_json,
        case
            when json_type(try_cast(audio_duration as json)) in ('UBIGINT', 'BIGINT', 'DOUBLE')
                then try_cast(audio_duration as decimal(18, 6))
        end as audio_seconds,
        _dlt_load_id as load_id

    from usage_extracted

)

select * from renamed
