with

source as (

    {{ typed_source('together', 'batch_requests', {
        'batch_id': 'varchar',
        'file_id': 'varchar',
        'line_number': 'bigint',
        'custom_id': 'varchar',
        'model': 'varchar',
        'max_tokens': 'bigint',
        'metadata': 'varchar',
        'request_bytes': 'bigint',
        'body': 'varchar',
        '_dlt_load_id': 'varchar',
    }) }}

),

renamed as (

    select
        file_id as input_file_id,
        line_number as input_line_number,
        -- The batch the loader saw; join on input_file_id, since one file can feed several batches.
        batch_id as loaded_for_batch_id,
        custom_id,
        coalesce(model, json_extract_string(body, '$.model')) as model,
        max_tokens,
        cast(metadata as json) as metadata,
        request_bytes,
        _dlt_load_id as load_id

    from source

)

select * from renamed
