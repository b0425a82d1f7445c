with

batch_items as (

    select * from {{ ref('int_batch_items_joined') }}

),

batch_tags as (

    select * from {{ ref('stg_batchledger__batch_tags') }}

),

batch_tag_attributes as (

    select
        batch_tags.batch_id,
        list({
            'cohort_key': batch_tags.tag_key,
            'precedence': 3,
            'cohort_value': batch_tags.tag_value,
            'attribute_source': 'batch_tag'
        }) as batch_tag_attributes

    from batch_tags
    group by batch_tags.batch_id

),

items_with_candidates as (

    select
        batch_items.batch_item_id,
        {{ cohort_attribute_candidates(
            'batch_items.metadata', 'batch_items.custom_id',
            'batch_tag_attributes.batch_tag_attributes'
        ) }} as candidates

    from batch_items
    left join batch_tag_attributes
        on batch_items.batch_id = batch_tag_attributes.batch_id

),

items_resolved as (

    -- The rule fct_batch_items applies per row (macros/cohort_attributes.sql).
    select
        items_with_candidates.batch_item_id,
        {{ cohort_attributes_resolved('items_with_candidates.candidates') }} as winners

    from items_with_candidates

),

items_unnested as (

    select
        items_resolved.batch_item_id,
        unnest(items_resolved.winners) as winner

    from items_resolved

),

final as (

    select
        items_unnested.batch_item_id,
        items_unnested.winner.cohort_key,
        items_unnested.winner.cohort_value,
        items_unnested.winner.attribute_source

    from items_unnested

)

select * from final
