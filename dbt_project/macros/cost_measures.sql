{#- The measures every cost rollup shares, aggregated over fct_batch_items rows aliased
    `items`. Costs sum priced items only (an unpriced item's cost is null, never 0), so a
    group with no priced item has a null cost; unpriced_items says how many were left out.
    usd_per_million_tokens divides by the tokens of priced items only. -#}
{% macro cost_measures(items='items') -%}
    count(*) as items_total,
    count(*) filter (where {{ items }}.item_status = 'succeeded') as items_succeeded,
    count(*) filter (where {{ items }}.item_status = 'failed') as items_failed,
    count(*) filter (where {{ items }}.item_status = 'not_processed') as items_not_processed,
    count(*) filter (where {{ items }}.item_status = 'pending') as items_pending,
    count(*) filter (where not {{ items }}.is_priced) as unpriced_items,
    cast(sum({{ items }}.prompt_tokens) as bigint) as prompt_tokens,
    cast(sum({{ items }}.cached_prompt_tokens) as bigint) as cached_prompt_tokens,
    cast(sum({{ items }}.completion_tokens) as bigint) as completion_tokens,
    cast(sum({{ items }}.total_tokens) as bigint) as total_tokens,
    sum({{ items }}.input_cost_usd) as input_cost_usd,
    sum({{ items }}.output_cost_usd) as output_cost_usd,
    sum({{ items }}.cost_usd) as cost_usd,
    sum({{ items }}.realtime_cost_usd) as realtime_cost_usd,
    sum({{ items }}.savings_usd) as savings_usd,
    {{ usd_per_million_tokens(
        'sum(' ~ items ~ '.cost_usd)',
        'sum(' ~ items ~ '.total_tokens) filter (where ' ~ items ~ '.is_priced)'
    ) }} as usd_per_million_tokens
{%- endmacro %}
