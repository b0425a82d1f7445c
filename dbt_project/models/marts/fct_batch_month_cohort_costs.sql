with

items as (

    select * from {{ ref('fct_batch_items') }}
    where {{ is_batch_to_build('fct_batch_items.batch_id') }}

),

item_cohorts as (

    -- One row per item and cohort key it carries (the item's cohort map, unnested).
    -- The two unnests run in step, pairing each key with its value.
    select
        items.*,
        unnest(map_keys(items.cohort)) as cohort_key,
        unnest(map_values(items.cohort)) as cohort_value

    from items

),

final as (

    select
        items.batch_id,
        items.usage_month,
        items.cohort_key,
        items.cohort_value,
        {{ cost_sums('items') }}

    from item_cohorts as items
    group by items.batch_id, items.usage_month, items.cohort_key, items.cohort_value

)

select * from final
