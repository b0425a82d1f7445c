with

source as (

    {{ typed_source('batchledger', 'submissions', {
        'batch_id': 'varchar',
        'submitted_at': 'timestamptz',
        'file': 'varchar',
        'input_file_id': 'varchar',
        'model': 'varchar',
        'lines': 'bigint',
        'estimate_usd': 'varchar',
        'tags': 'json',
        'parent_batch_id': 'varchar',
    }) }}

),

renamed as (

    select
        batch_id,
        nullif(parent_batch_id, '') as parent_batch_id,
        submitted_at at time zone 'UTC' as submitted_at,
        file as submitted_file_path,
        input_file_id,
        model,
        lines as input_lines,
        cast(estimate_usd as decimal(38, 18)) as estimated_max_cost_usd,
        tags

    from source

)

select * from renamed
