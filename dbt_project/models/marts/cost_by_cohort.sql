with

items as (

    select * from {{ ref('fct_batch_items') }}

),

batch_item_attributes as (

    select * from {{ ref('int_batch_item_attributes_unioned') }}

),

cohort_keys as (

    select distinct cohort_key
    from batch_item_attributes

),

items_by_cohort_key as (

    -- Every item once per cohort key known to the warehouse, so that each key's rows add up
    -- to the month's total; an item without the key counts as '(unassigned)'.
    select
        items.*,
        cohort_keys.cohort_key,
        coalesce(batch_item_attributes.cohort_value, '(unassigned)') as cohort_value

    from items
    cross join cohort_keys
    left join batch_item_attributes
        on items.batch_item_id = batch_item_attributes.batch_item_id
        and cohort_keys.cohort_key = batch_item_attributes.cohort_key

),

final as (

    select
        items.usage_month,
        items.cohort_key,
        items.cohort_value,
        count(distinct items.batch_id) as jobs,
        {{ cost_measures('items') }}

    from items_by_cohort_key as items
    group by items.usage_month, items.cohort_key, items.cohort_value

)

select * from final
