with

source as (

    {{ typed_source('together', 'endpoints', {
        'id': 'varchar',
        'object': 'varchar',
        'name': 'varchar',
        'model': 'varchar',
        'type': 'varchar',
        'owner': 'varchar',
        'state': 'varchar',
        'created_at': 'timestamptz',
        'observed_at': 'timestamptz',
        '_dlt_load_id': 'varchar',
    }) }}

),

renamed as (

    select
        'together' as provider,
        id as endpoint_id,
        name as endpoint,
        model as endpoint_model,
        lower(type) as endpoint_type,
        owner,
        state,
        created_at at time zone 'UTC' as created_at,
        observed_at at time zone 'UTC' as observed_at,
        _dlt_load_id as load_id

    from source

)

select * from renamed
