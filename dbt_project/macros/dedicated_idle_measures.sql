{#- The cost_measures columns of a row with no job and no item: the idle remainder of
    dedicated endpoint windows (`idle_cost_usd`, an aggregate over dedicated_endpoint_costs
    rows), so that cost_by_month and cost_by_cohort can carry it beside the items' rows. -#}
{% macro dedicated_idle_measures(idle_cost_usd) -%}
    cast(0 as bigint) as jobs,
    {%- for count in [
        'items_total', 'items_succeeded', 'items_failed', 'items_not_processed',
        'items_pending', 'unpriced_items', 'prompt_tokens', 'cached_prompt_tokens',
        'completion_tokens', 'total_tokens',
    ] %}
    cast(0 as bigint) as {{ count }},
    {%- endfor %}
    cast(null as decimal(38, 18)) as input_cost_usd,
    cast(null as decimal(38, 18)) as output_cost_usd,
    cast(0 as decimal(38, 6)) as audio_seconds,
    cast(null as decimal(38, 18)) as audio_cost_usd,
    cast({{ idle_cost_usd }} as decimal(38, 18)) as cost_usd,
    cast(null as decimal(38, 18)) as realtime_cost_usd,
    cast(null as decimal(38, 18)) as savings_usd,
    cast(null as decimal(38, 12)) as usd_per_million_tokens
{%- endmacro %}
