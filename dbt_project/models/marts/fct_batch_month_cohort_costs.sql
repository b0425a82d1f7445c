with

items as (

    select * from {{ ref('fct_batch_items') }}
    where {{ is_batch_to_build('fct_batch_items.batch_id') }}

),

item_cohorts as (

    -- One row per item and cohort key it carries (the item's cohort map, unnested).
    select
        items.*,
        cohort_entries.cohort_entry.key as cohort_key,
        cohort_entries.cohort_entry.value as cohort_value

    from items
    cross join unnest(map_entries(items.cohort)) as cohort_entries (cohort_entry)

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
