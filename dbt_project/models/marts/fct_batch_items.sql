with

batch_items as (

    select * from {{ ref('int_batch_items_allocated') }}

),

batch_item_attributes as (

    select * from {{ ref('int_batch_item_attributes_unioned') }}

),

cohorts as (

    select
        batch_item_id,
        -- Keys are unique per item, so sorting the (key, value) pairs orders them by key.
        -- list_sort after the aggregate, not list(... order by): an ordered aggregate
        -- sorts inside every one of a million groups, three times slower at 1M items.
        map_from_entries(
            list_sort(list({ 'key': cohort_key, 'value': cohort_value }))
        ) as cohort

    from batch_item_attributes
    group by batch_item_id

),

final as (

    select
        batch_items.batch_item_id,
        batch_items.provider,
        batch_items.batch_id,
        batch_items.custom_id,
        batch_items.model,
        batch_items.item_status,
        batch_items.is_orphan,
        batch_items.used_at,
        batch_items.usage_date,
        batch_items.usage_month,
        batch_items.prompt_tokens,
        batch_items.cached_prompt_tokens,
        batch_items.completion_tokens,
        batch_items.total_tokens,
        batch_items.is_audio,
        batch_items.audio_seconds,
        batch_items.pricing_mode_applied,
        batch_items.is_priced,
        batch_items.billed_model_price_id,
        batch_items.realtime_model_price_id,
        batch_items.billed_usd_per_million_input_tokens,
        batch_items.billed_usd_per_million_output_tokens,
        batch_items.billed_usd_per_million_cached_input_tokens,
        batch_items.billed_usd_per_audio_minute,
        batch_items.input_cost_usd,
        batch_items.output_cost_usd,
        batch_items.audio_cost_usd,
        batch_items.cost_usd,
        batch_items.realtime_cost_usd,
        batch_items.savings_usd,
        coalesce(cohorts.cohort, cast(map() as map(varchar, varchar))) as cohort,  -- noqa: LT01
        {% for key in cohort_columns() -%}
            cohorts.cohort['{{ key }}'] as {{ key }},
        {% endfor -%}
        batch_items.input_line_number,
        batch_items.result_id,
        batch_items.result_file_id,
        batch_items.result_file_kind,
        batch_items.result_line_number,
        batch_items.status_code,
        batch_items.finish_reason,
        batch_items.error_code,
        batch_items.error_message,
        batch_items.has_usage,
        batch_items.usage_issue,
        batch_items.dedicated_endpoint,
        batch_items.endpoint_window_id,
        batch_items.endpoint_window_busy_milliseconds,
        -- Which build wrote the row, so that publishing copies only rows newer than the
        -- published file's (see warehouse.py).
        {{ build_id() }} as _build_id

    from batch_items
    left join cohorts
        on batch_items.batch_item_id = cohorts.batch_item_id

)

select * from final
