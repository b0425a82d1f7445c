{#- The measures of a cost_sums row, each minus the same measure of the assigned rows
    (null: nothing assigned). A nullable amount is null when no unassigned item carries it,
    as a sum over those items would be. -#}
{%- set counts = [
    'items_total', 'items_succeeded', 'items_failed', 'items_not_processed', 'items_pending',
    'unpriced_items', 'orphan_items', 'priced_items', 'realtime_priced_items',
    'items_with_savings', 'prompt_tokens', 'cached_prompt_tokens', 'completion_tokens',
    'total_tokens', 'priced_total_tokens',
] -%}
{%- set amounts = [
    ('input_cost_usd', 'priced_items'),
    ('output_cost_usd', 'priced_items'),
    ('cost_usd', 'priced_items'),
    ('realtime_cost_usd', 'realtime_priced_items'),
    ('savings_usd', 'items_with_savings'),
] -%}

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
        {%- for measure in counts %}
        sum(batch_month_costs.{{ measure }}) as {{ measure }},
        {%- endfor %}
        {%- for amount, _ in amounts %}
        sum(batch_month_costs.{{ amount }}) as {{ amount }},
        {%- endfor %}

    from batch_month_costs
    group by batch_month_costs.batch_id, batch_month_costs.usage_month

),

batch_month_keys as (

    -- Each batch's sums per month over the items that carry a cohort key, any value.
    select
        batch_month_cohort_costs.batch_id,
        batch_month_cohort_costs.usage_month,
        batch_month_cohort_costs.cohort_key,
        {%- for measure in counts %}
        sum(batch_month_cohort_costs.{{ measure }}) as {{ measure }},
        {%- endfor %}
        {%- for amount, _ in amounts %}
        sum(batch_month_cohort_costs.{{ amount }}) as {{ amount }},
        {%- endfor %}

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
        {%- for measure in counts %}
        batch_months.{{ measure }} - coalesce(assigned.{{ measure }}, 0) as {{ measure }},
        {%- endfor %}
        {%- for amount, carried_by in amounts %}
        case
            when batch_months.{{ carried_by }} - coalesce(assigned.{{ carried_by }}, 0) > 0
                then coalesce(batch_months.{{ amount }}, 0) - coalesce(assigned.{{ amount }}, 0)
        end as {{ amount }},
        {%- endfor %}

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
