with

batch_month_costs as (

    select * from {{ ref('fct_batch_month_costs') }}

),

batch_month_cohort_costs as (

    select * from {{ ref('fct_batch_month_cohort_costs') }}

),

dedicated_endpoint_costs as (

    select * from {{ ref('dedicated_endpoint_costs') }}

),

cohort_keys as (

    select distinct batch_month_cohort_costs.cohort_key
    from batch_month_cohort_costs

),

batch_months as (

    -- Each batch's sums per month, over all its models.
    select
        batch_month_costs.batch_id,
        batch_month_costs.usage_month,
        {{ cost_sums_summed('batch_month_costs') }}

    from batch_month_costs
    group by batch_month_costs.batch_id, batch_month_costs.usage_month

),

batch_month_keys as (

    -- Each batch's sums per month over its items that carry a cohort key, any value.
    select
        batch_month_cohort_costs.batch_id,
        batch_month_cohort_costs.usage_month,
        batch_month_cohort_costs.cohort_key,
        {{ cost_sums_summed('batch_month_cohort_costs') }}

    from batch_month_cohort_costs
    group by
        batch_month_cohort_costs.batch_id,
        batch_month_cohort_costs.usage_month,
        batch_month_cohort_costs.cohort_key

),

unassigned as (

    -- Every item counts once per cohort key known to the warehouse, so that each key's rows
    -- add up to the month's total: the items of a batch and month without the key are its
    -- '(unassigned)' share, the batch's sums minus those of its items with the key.
    select
        batch_months.batch_id,
        batch_months.usage_month,
        cohort_keys.cohort_key,
        '(unassigned)' as cohort_value,
        {{ cost_sums_difference('batch_months', 'assigned') }}

    from batch_months
    cross join cohort_keys
    left join batch_month_keys as assigned
        on batch_months.batch_id = assigned.batch_id
        and batch_months.usage_month is not distinct from assigned.usage_month
        and cohort_keys.cohort_key = assigned.cohort_key
    where batch_months.items_total - coalesce(assigned.items_total, 0) > 0

),

cohort_rows as (

    select * from batch_month_cohort_costs
    union all by name
    select * from unassigned

),

usage_rows as (

    select
        cohort_rows.usage_month,
        cohort_rows.cohort_key,
        cohort_rows.cohort_value,
        count(distinct cohort_rows.batch_id) as jobs,
        {{ cost_measures_from_sums('cohort_rows') }}

    from cohort_rows
    group by cohort_rows.usage_month, cohort_rows.cohort_key, cohort_rows.cohort_value

),

idle_rows as (

    -- The idle remainder of dedicated endpoints belongs to no job and no cohort: it counts
    -- under its own value in every key, so each key still adds up to the month's total.
    select
        dedicated_endpoint_costs.usage_month,
        cohort_keys.cohort_key,
        '(dedicated idle)' as cohort_value,
        {{ dedicated_idle_measures('sum(dedicated_endpoint_costs.cost_usd)') }}

    from dedicated_endpoint_costs
    cross join cohort_keys
    where dedicated_endpoint_costs.line_kind = 'idle'
    group by dedicated_endpoint_costs.usage_month, cohort_keys.cohort_key

),

final as (

    select * from usage_rows
    union all by name
    select * from idle_rows

)

select * from final
