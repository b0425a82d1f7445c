with

source as (

    {{ typed_source('together', 'batches', {
        'id': 'varchar',
        'user_id': 'varchar',
        'input_file_id': 'varchar',
        'file_size_bytes': 'bigint',
        'status': 'varchar',
        'job_deadline': 'timestamptz',
        'created_at': 'timestamptz',
        'endpoint': 'varchar',
        'progress': 'double',
        'model_id': 'varchar',
        'output_file_id': 'varchar',
        'error_file_id': 'varchar',
        'error': 'varchar',
        'completed_at': 'timestamptz',
        'observed_at': 'timestamptz',
        '_dlt_load_id': 'varchar',
    }) }}

),

renamed as (

    select
        'together' as provider,
        id as batch_id,
        user_id,
        input_file_id,
        output_file_id,
        error_file_id,
        model_id as model,
        endpoint,
        -- Transcription and translation batches are billed per minute of audio, not per token.
        coalesce(endpoint in ('/v1/audio/transcriptions', '/v1/audio/translations'), false)
            as is_audio,
        status as provider_status,
        case upper(status)
            when 'VALIDATING' then 'validating'
            when 'IN_PROGRESS' then 'in_progress'
            -- CANCELING is transitional: requests in flight still finish and are billed.
            when 'CANCELING' then 'in_progress'
            when 'CANCELLING' then 'in_progress'
            when 'COMPLETED' then 'completed'
            when 'FAILED' then 'failed'
            when 'EXPIRED' then 'expired'
            when 'CANCELLED' then 'cancelled'
            when 'CANCELED' then 'cancelled'
            else lower(status)
        end as status,
        coalesce({{ is_terminal_batch_status('status') }}, false) as is_terminal,
        progress as progress_percent,
        file_size_bytes as input_file_bytes,
        error as job_error_message,
        created_at at time zone 'UTC' as created_at,
        completed_at at time zone 'UTC' as completed_at,
        job_deadline at time zone 'UTC' as deadline_at,
        observed_at at time zone 'UTC' as observed_at,
        _dlt_load_id as load_id

    from source

)

select * from renamed
