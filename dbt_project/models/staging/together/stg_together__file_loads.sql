with

source as (

    {{ typed_source('together', 'file_loads', {
        'file_id': 'varchar',
        'batch_id': 'varchar',
        'file_kind': 'varchar',
        'lines_total': 'bigint',
        'lines_loaded': 'bigint',
        'lines_quarantined': 'bigint',
        'content_bytes': 'bigint',
        'sha256': 'varchar',
        'loaded_at': 'timestamptz',
        '_dlt_load_id': 'varchar',
    }) }}

),

renamed as (

    select
        file_id,
        batch_id,
        file_kind,
        lines_total,
        lines_loaded,
        lines_quarantined,
        content_bytes,
        sha256 as content_sha256,
        loaded_at at time zone 'UTC' as loaded_at,
        _dlt_load_id as load_id

    from source

)

select * from renamed
