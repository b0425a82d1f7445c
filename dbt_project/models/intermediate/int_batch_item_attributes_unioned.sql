with

batch_items as (

    select * from {{ ref('int_batch_items_joined') }}

),

batch_tags as (

    select * from {{ ref('stg_batchledger__batch_tags') }}

),

metadata_attributes as (

    -- Every key of the input line's metadata object; non-string values become their JSON
    -- text (2, true, {"a":1}), JSON nulls are dropped.
    select
        batch_items.batch_item_id,
        metadata_entries.key as cohort_key,
        metadata_entries.value ->> '$' as cohort_value,
        1 as precedence,
        'metadata' as attribute_source

    from batch_items
    cross join json_each(batch_items.metadata) as metadata_entries
    where
        json_type(batch_items.metadata) = 'OBJECT'
        and metadata_entries.type != 'NULL'

),

custom_id_attributes as (

    {{ custom_id_attributes('batch_items') }}

),

batch_tag_attributes as (

    select
        batch_items.batch_item_id,
        batch_tags.tag_key as cohort_key,
        batch_tags.tag_value as cohort_value,
        3 as precedence,
        'batch_tag' as attribute_source

    from batch_items
    inner join batch_tags
        on batch_items.batch_id = batch_tags.batch_id

),

unioned as (

    select * from metadata_attributes
    union all
    select
        batch_item_id,
        cohort_key,
        cohort_value,
        2 as precedence,
        'custom_id' as attribute_source
    from custom_id_attributes
    union all
    select * from batch_tag_attributes

),

resolved as (

    -- The item's own metadata wins, then its custom_id, then the batch's tags. A key that
    -- metadata gives twice (a provider or caller bug) takes the smaller value, so every
    -- build picks the same one. An aggregate, not a window: a window sorted every
    -- attribute of every item.
    select
        batch_item_id,
        cohort_key,
        arg_min(
            { 'cohort_value': cohort_value, 'attribute_source': attribute_source },
            { 'precedence': precedence, 'cohort_value': cohort_value }
        ) as winner

    from unioned
    where cohort_key is not null and cohort_value is not null
    group by batch_item_id, cohort_key

),

final as (

    select
        resolved.batch_item_id,
        resolved.cohort_key,
        resolved.winner.cohort_value,
        resolved.winner.attribute_source

    from resolved

)

select * from final
