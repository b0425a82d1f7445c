with

batches as (

    select * from {{ ref('stg_together__batches') }}

),

batch_files as (

    select * from {{ ref('int_batch_files_checked') }}

),

batch_tags as (

    select * from {{ ref('stg_batchledger__batch_tags') }}

),

batch_lineage as (

    select * from {{ ref('int_batches_traced') }}

),

batch_month_costs as (

    select * from {{ ref('fct_batch_month_costs') }}

),

job_models as (

    -- The model most of a job's items name (ties: the first by name), for jobs whose
    -- batch object names none.
    select
        batch_month_costs.batch_id,
        batch_month_costs.model,
        row_number() over (
            partition by batch_month_costs.batch_id
            order by sum(batch_month_costs.items_total) desc, batch_month_costs.model asc
        ) as model_rank,
        count(*) over (partition by batch_month_costs.batch_id) as model_count

    from batch_month_costs
    where batch_month_costs.model is not null
    group by batch_month_costs.batch_id, batch_month_costs.model

),

job_measures as (

    select
        batch_month_costs.batch_id,
        any_value(job_models.model) as most_common_item_model,
        any_value(job_models.model_count) as item_model_count,
        cast(sum(batch_month_costs.orphan_items) as bigint) as orphan_items,
        {{ cost_measures_from_sums('batch_month_costs') }}

    from batch_month_costs
    left join job_models
        on batch_month_costs.batch_id = job_models.batch_id
        and job_models.model_rank = 1
    group by batch_month_costs.batch_id

),

batch_month_cohort_costs as (

    select * from {{ ref('fct_batch_month_cohort_costs') }}

),

job_cohort_values as (

    -- Per job and flat cohort key: how many values its items carry, and how many items carry
    -- the key at all, so a job whose items disagree (or only some have it) reads '(mixed)'.
    select
        batch_month_cohort_costs.batch_id,
        batch_month_cohort_costs.cohort_key,
        count(distinct batch_month_cohort_costs.cohort_value) as distinct_values,
        min(batch_month_cohort_costs.cohort_value) as cohort_value,
        sum(batch_month_cohort_costs.items_total) as items_with_key

    from batch_month_cohort_costs
    where batch_month_cohort_costs.cohort_key in ({{ cohort_key_list() }})
    group by batch_month_cohort_costs.batch_id, batch_month_cohort_costs.cohort_key

),

job_tags as (

    select
        batch_id,
        map_from_entries(list({ 'key': tag_key, 'value': tag_value } order by tag_key)) as tags

    from batch_tags
    group by batch_id

),

final as (

    select
        batches.provider,
        batches.batch_id,
        coalesce(batches.model, job_measures.most_common_item_model) as model,
        coalesce(job_measures.item_model_count, 0) as item_model_count,
        batches.status,
        batches.provider_status,
        batches.is_terminal,
        batches.created_at,
        batches.completed_at,
        date_diff('second', batches.created_at, batches.completed_at) as duration_seconds,
        batches.input_file_id,
        batches.output_file_id,
        batches.error_file_id,
        batch_files.has_input_file_loaded,
        batch_files.has_result_files_loaded,
        coalesce(job_measures.items_total, 0) as items_total,
        coalesce(job_measures.items_succeeded, 0) as items_succeeded,
        coalesce(job_measures.items_failed, 0) as items_failed,
        coalesce(job_measures.items_not_processed, 0) as items_not_processed,
        coalesce(job_measures.items_pending, 0) as items_pending,
        coalesce(job_measures.orphan_items, 0) as orphan_items,
        coalesce(job_measures.prompt_tokens, 0) as prompt_tokens,
        coalesce(job_measures.cached_prompt_tokens, 0) as cached_prompt_tokens,
        coalesce(job_measures.completion_tokens, 0) as completion_tokens,
        coalesce(job_measures.total_tokens, 0) as total_tokens,
        coalesce(job_measures.audio_seconds, 0) as audio_seconds,
        job_measures.input_cost_usd,
        job_measures.output_cost_usd,
        job_measures.audio_cost_usd,
        job_measures.cost_usd,
        job_measures.realtime_cost_usd,
        job_measures.savings_usd,
        job_measures.usd_per_million_tokens,
        coalesce(job_measures.unpriced_items, 0) as unpriced_items,
        -- A failed job's items are "not processed": they are failures too.
        coalesce(job_measures.items_failed, 0) > 0
        or coalesce(job_measures.items_not_processed, 0) > 0 as has_failures,
        -- Figures that can still grow read as pending, not as a final zero.
        batches.is_terminal and coalesce(job_measures.items_pending, 0) = 0 as is_cost_final,
        coalesce(job_tags.tags, cast(map() as map(varchar, varchar))) as tags,  -- noqa: LT01
        {% for key in cohort_columns() -%}
            case
                when cohort_{{ key }}.batch_id is null then null
                when
                    cohort_{{ key }}.distinct_values = 1
                    and cohort_{{ key }}.items_with_key = job_measures.items_total
                    then cohort_{{ key }}.cohort_value
                else '(mixed)'
            end as {{ key }},
        {% endfor -%}
        batch_lineage.parent_batch_id,
        coalesce(batch_lineage.root_batch_id, batches.batch_id) as root_batch_id,
        coalesce(batch_lineage.retry_depth, 0) as retry_depth

    from batches
    left join batch_files
        on batches.batch_id = batch_files.batch_id
    left join job_measures
        on batches.batch_id = job_measures.batch_id
    left join job_tags
        on batches.batch_id = job_tags.batch_id
    left join batch_lineage
        on batches.batch_id = batch_lineage.batch_id
    {% for key in cohort_columns() -%}
        left join job_cohort_values as cohort_{{ key }}
            on
            batches.batch_id = cohort_{{ key }}.batch_id
            and cohort_{{ key }}.cohort_key = '{{ key }}'
    {% endfor -%}

)

select * from final
