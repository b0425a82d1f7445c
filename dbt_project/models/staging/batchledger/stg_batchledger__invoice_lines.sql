with

source as (

    {{ typed_source('batchledger', 'invoice_lines', {
        'file_sha256': 'varchar',
        'file_name': 'varchar',
        'imported_at': 'timestamptz',
        'line_number': 'bigint',
        'invoice_month': 'varchar',
        'model': 'varchar',
        'description': 'varchar',
        'amount_usd': 'varchar',
        'currency': 'varchar',
    }) }}

),

renamed as (

    select
        file_sha256 || ':' || line_number as invoice_line_id,
        file_sha256,
        file_name,
        imported_at at time zone 'UTC' as imported_at,
        line_number,
        cast(strptime(invoice_month, '%Y-%m') as date) as invoice_month,
        nullif(model, '') as model,
        nullif(description, '') as description,
        cast(amount_usd as decimal(38, 18)) as amount_usd,
        currency

    from source

)

select * from renamed
