with

source as (

    select * from {{ ref('batch_tags') }}

),

renamed as (

    select
        batch_id,
        tag_key,
        tag_value

    from source

)

select * from renamed
