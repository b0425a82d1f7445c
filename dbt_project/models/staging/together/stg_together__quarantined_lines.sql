with

source as (

    {{ typed_source('together', 'quarantine', {
        'file_id': 'varchar',
        'batch_id': 'varchar',
        'file_kind': 'varchar',
        'line_number': 'bigint',
        'error': 'varchar',
        'raw_text': 'varchar',
        '_dlt_load_id': 'varchar',
    }) }}

),

renamed as (

    select
        file_id,
        batch_id,
        file_kind,
        line_number,
        error as quarantine_reason,
        raw_text,
        _dlt_load_id as load_id

    from source

)

select * from renamed
