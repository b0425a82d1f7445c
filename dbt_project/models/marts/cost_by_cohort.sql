with

batch_month_costs as (

    select * from {{ ref('fct_batch_month_costs') }}

),

batch_month_cohort_costs as (

    select * from {{ ref('fct_batch_month_cohort_costs') }}

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

final as (

    select
        cohort_rows.usage_month,
        cohort_rows.cohort_key,
        cohort_rows.cohort_value,
        count(distinct cohort_rows.batch_id) as jobs,
        {{ cost_measures_from_sums('cohort_rows') }}

    from cohort_rows
    group by cohort_rows.usage_month, cohort_rows.cohort_key, cohort_rows.cohort_value

)

select * from final
