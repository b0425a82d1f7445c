with

batch_items as (

    select * from {{ ref('int_batch_items_allocated') }}

),

batch_tags as (

    select * from {{ ref('stg_batchledger__batch_tags') }}

),

batches as (

    select * from {{ ref('stg_together__batches') }}

),

batch_requests as (

    select * from {{ ref('stg_together__batch_requests') }}

),

batch_tag_attributes as (

    -- One row per batch with tags: its tags as cohort attributes (macros/cohort_attributes.sql).
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

batch_metadata as (

    -- One row per batch this build computes and metadata object among its requests (every
    -- request line of its input file): a few per batch in practice, where items are many.
    select distinct
        batches.batch_id,
        batch_requests.metadata

    from batches
    inner join batch_requests
        on batches.input_file_id = batch_requests.input_file_id
    where
        {{ is_batch_to_build('batches.batch_id') }}
        and batch_requests.metadata is not null

),

batch_metadata_candidates as (

    -- Without a custom_id pattern an item's cohort depends only on its metadata and its
    -- batch's tags, so it is resolved once per batch and metadata object, then looked up per
    -- item. With a pattern there are no rows: every item is resolved on its own.
    select
        batch_metadata.batch_id,
        batch_metadata.metadata,
        {{ cohort_attribute_candidates(
            'batch_metadata.metadata', none, 'batch_tag_attributes.batch_tag_attributes'
        ) }} as cohort_candidates

    from batch_metadata
    left join batch_tag_attributes
        on batch_metadata.batch_id = batch_tag_attributes.batch_id
    where {{ 'false' if var('custom_id_cohort_pattern', '') else 'true' }}

),

batch_metadata_cohorts as (

    select
        batch_metadata_candidates.batch_id,
        batch_metadata_candidates.metadata,
        map_from_entries([
            { 'key': winner.cohort_key, 'value': winner.cohort_value }
            for winner in {{ cohort_attributes_resolved(
                'batch_metadata_candidates.cohort_candidates'
            ) }}
        ]) as cohort

    from batch_metadata_candidates

),

items_with_candidates as (

    -- The cohort is resolved from the item's metadata, its custom_id and its batch's tags:
    -- the rule of int_batch_item_attributes_unioned, which reading would run the
    -- request-result join chain a second time and aggregate a row per attribute. Looked up
    -- when batch_metadata_cohorts has it; otherwise (no metadata, a custom_id pattern)
    -- resolved from the item's own row.
    select
        batch_items.*,
        batch_metadata_cohorts.cohort as batch_metadata_cohort,
        case
            when batch_metadata_cohorts.cohort is null
                then {{ cohort_attribute_candidates(
                    'batch_items.metadata', 'batch_items.custom_id',
                    'batch_tag_attributes.batch_tag_attributes'
                ) }}
        end as cohort_candidates

    from batch_items
    left join batch_tag_attributes
        on batch_items.batch_id = batch_tag_attributes.batch_id
    left join batch_metadata_cohorts
        on batch_items.batch_id = batch_metadata_cohorts.batch_id
        and batch_items.metadata = batch_metadata_cohorts.metadata

),

items_attributed as (

    select
        items_with_candidates.*,
        -- One value per key, sorted by key; an item with no attributes has an empty map.
        coalesce(
            items_with_candidates.batch_metadata_cohort,
            map_from_entries([
                { 'key': winner.cohort_key, 'value': winner.cohort_value }
                for winner in {{ cohort_attributes_resolved(
                    'items_with_candidates.cohort_candidates'
                ) }}
            ]),
            cast(map() as map(varchar, varchar))  -- noqa: LT01
        ) as cohort

    from items_with_candidates

),

final as (

    select
        items_attributed.batch_item_id,
        items_attributed.provider,
        items_attributed.batch_id,
        items_attributed.custom_id,
        items_attributed.model,
        items_attributed.item_status,
        items_attributed.is_orphan,
        items_attributed.used_at,
        items_attributed.usage_date,
        items_attributed.usage_month,
        items_attributed.prompt_tokens,
        items_attributed.cached_prompt_tokens,
        items_attributed.completion_tokens,
        items_attributed.total_tokens,
        items_attributed.is_audio,
        items_attributed.audio_seconds,
        items_attributed.pricing_mode_applied,
        items_attributed.is_priced,
        items_attributed.billed_model_price_id,
        items_attributed.realtime_model_price_id,
        items_attributed.billed_usd_per_million_input_tokens,
        items_attributed.billed_usd_per_million_output_tokens,
        items_attributed.billed_usd_per_million_cached_input_tokens,
        items_attributed.billed_usd_per_audio_minute,
        items_attributed.input_cost_usd,
        items_attributed.output_cost_usd,
        items_attributed.audio_cost_usd,
        items_attributed.cost_usd,
        items_attributed.realtime_cost_usd,
        items_attributed.savings_usd,
        items_attributed.cohort,
        {% for key in cohort_columns() -%}
            items_attributed.cohort['{{ key }}'] as {{ key }},
        {% endfor -%}
        items_attributed.input_line_number,
        items_attributed.result_id,
        items_attributed.result_file_id,
        items_attributed.result_file_kind,
        items_attributed.result_line_number,
        items_attributed.status_code,
        items_attributed.finish_reason,
        items_attributed.error_code,
        items_attributed.error_message,
        items_attributed.has_usage,
        items_attributed.usage_issue,
        items_attributed.dedicated_endpoint,
        items_attributed.endpoint_window_id,
        items_attributed.endpoint_window_busy_milliseconds,
        -- Which build wrote the row, so that publishing copies only rows newer than the
        -- published file's (see warehouse.py).
        {{ build_id() }} as _build_id

    from items_attributed

)

select * from final
