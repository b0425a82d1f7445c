with

seed_tags as (

    select * from {{ ref('batch_tags') }}

),

submitted_tags as (

    {{ typed_source('batchledger', 'batch_tags', {
        'batch_id': 'varchar',
        'tag_key': 'varchar',
        'tag_value': 'varchar',
        '_dlt_load_id': 'varchar',
    }) }}

),

unioned as (

    select
        batch_id,
        tag_key,
        tag_value,
        'seed' as tag_source,
        1 as precedence,
        cast(null as varchar) as load_id

    from seed_tags

    union all

    select
        batch_id,
        tag_key,
        tag_value,
        'submit' as tag_source,
        2 as precedence,
        _dlt_load_id as load_id

    from submitted_tags

),

renamed as (

    -- The seed wins over a tag given at submit time: it is the reviewed, versioned way to
    -- correct or add a batch's tags after the fact.
    select
        batch_id,
        tag_key,
        tag_value,
        tag_source,
        load_id

    from unioned
    where batch_id is not null and tag_key is not null
    qualify row_number() over (partition by batch_id, tag_key order by precedence) = 1

)

select * from renamed
