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
    sum({{ items }}.audio_seconds) as audio_seconds,
    sum({{ items }}.input_cost_usd) as input_cost_usd,
    sum({{ items }}.output_cost_usd) as output_cost_usd,
    sum({{ items }}.audio_cost_usd) as audio_cost_usd,
    sum({{ items }}.cost_usd) as cost_usd,
    sum({{ items }}.realtime_cost_usd) as realtime_cost_usd,
    sum({{ items }}.savings_usd) as savings_usd,
    {{ usd_per_million_tokens(
        'sum(' ~ items ~ '.input_cost_usd + ' ~ items ~ '.output_cost_usd)',
        'sum(' ~ items ~ '.total_tokens) filter (where ' ~ items ~ '.is_priced)'
    ) }} as usd_per_million_tokens
{%- endmacro %}

{#- The measures fct_batch_month_costs and fct_batch_month_cohort_costs keep per batch and
    month, over fct_batch_items rows aliased `items`: cost_measures' sums without the
    per-million rate (it does not add up), plus what a rollup needs to add them up again
    exactly: how many items carry each nullable amount, and the priced items' tokens. -#}
{% macro cost_sums(items='items') -%}
    count(*) as items_total,
    count(*) filter (where {{ items }}.item_status = 'succeeded') as items_succeeded,
    count(*) filter (where {{ items }}.item_status = 'failed') as items_failed,
    count(*) filter (where {{ items }}.item_status = 'not_processed') as items_not_processed,
    count(*) filter (where {{ items }}.item_status = 'pending') as items_pending,
    count(*) filter (where not {{ items }}.is_priced) as unpriced_items,
    count(*) filter (where {{ items }}.is_orphan) as orphan_items,
    count({{ items }}.cost_usd) as priced_items,
    count({{ items }}.realtime_cost_usd) as realtime_priced_items,
    count({{ items }}.savings_usd) as items_with_savings,
    cast(sum({{ items }}.prompt_tokens) as bigint) as prompt_tokens,
    cast(sum({{ items }}.cached_prompt_tokens) as bigint) as cached_prompt_tokens,
    cast(sum({{ items }}.completion_tokens) as bigint) as completion_tokens,
    cast(sum({{ items }}.total_tokens) as bigint) as total_tokens,
    cast(sum({{ items }}.total_tokens) filter (where {{ items }}.is_priced) as bigint)
        as priced_total_tokens,
    sum({{ items }}.audio_seconds) as audio_seconds,
    sum({{ items }}.input_cost_usd) as input_cost_usd,
    sum({{ items }}.output_cost_usd) as output_cost_usd,
    sum({{ items }}.audio_cost_usd) as audio_cost_usd,
    sum({{ items }}.cost_usd) as cost_usd,
    sum({{ items }}.realtime_cost_usd) as realtime_cost_usd,
    sum({{ items }}.savings_usd) as savings_usd
{%- endmacro %}

{#- cost_measures over rows of cost_sums aliased `sums`: the same figures as cost_measures
    over the items those rows sum up, to the last decimal (DECIMAL sums are exact, and a sum
    over rows whose amounts are all null stays null, as over the items). -#}
{% macro cost_measures_from_sums(sums='sums') -%}
    cast(sum({{ sums }}.items_total) as bigint) as items_total,
    cast(sum({{ sums }}.items_succeeded) as bigint) as items_succeeded,
    cast(sum({{ sums }}.items_failed) as bigint) as items_failed,
    cast(sum({{ sums }}.items_not_processed) as bigint) as items_not_processed,
    cast(sum({{ sums }}.items_pending) as bigint) as items_pending,
    cast(sum({{ sums }}.unpriced_items) as bigint) as unpriced_items,
    cast(sum({{ sums }}.prompt_tokens) as bigint) as prompt_tokens,
    cast(sum({{ sums }}.cached_prompt_tokens) as bigint) as cached_prompt_tokens,
    cast(sum({{ sums }}.completion_tokens) as bigint) as completion_tokens,
    cast(sum({{ sums }}.total_tokens) as bigint) as total_tokens,
    sum({{ sums }}.audio_seconds) as audio_seconds,
    sum({{ sums }}.input_cost_usd) as input_cost_usd,
    sum({{ sums }}.output_cost_usd) as output_cost_usd,
    sum({{ sums }}.audio_cost_usd) as audio_cost_usd,
    sum({{ sums }}.cost_usd) as cost_usd,
    sum({{ sums }}.realtime_cost_usd) as realtime_cost_usd,
    sum({{ sums }}.savings_usd) as savings_usd,
    {{ usd_per_million_tokens(
        'sum(' ~ sums ~ '.input_cost_usd + ' ~ sums ~ '.output_cost_usd)',
        'sum(' ~ sums ~ '.priced_total_tokens)'
    ) }} as usd_per_million_tokens
{%- endmacro %}

{#- The measures of cost_sums, and for each amount that can be null the count of items
    carrying it. -#}
{% macro cost_sums_measures() -%}
    {%- do return({
        'counts': [
            'items_total', 'items_succeeded', 'items_failed', 'items_not_processed',
            'items_pending', 'unpriced_items', 'orphan_items', 'priced_items',
            'realtime_priced_items', 'items_with_savings', 'prompt_tokens',
            'cached_prompt_tokens', 'completion_tokens', 'total_tokens', 'priced_total_tokens',
            'audio_seconds',
        ],
        'amounts': {
            'input_cost_usd': 'priced_items',
            'output_cost_usd': 'priced_items',
            'audio_cost_usd': 'priced_items',
            'cost_usd': 'priced_items',
            'realtime_cost_usd': 'realtime_priced_items',
            'savings_usd': 'items_with_savings',
        },
    }) -%}
{%- endmacro %}

{#- Every cost_sums measure of rows aliased `sums`, summed (for a coarser grain). -#}
{% macro cost_sums_summed(sums='sums') -%}
    {%- set measures = cost_sums_measures() -%}
    {%- for measure in measures['counts'] + (measures['amounts'].keys() | list) %}
    sum({{ sums }}.{{ measure }}) as {{ measure }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Every cost_sums measure of `whole` minus the same measure of `part` (a left-joined row
    that may be missing). An amount is null when no item of the difference carries it, as a
    sum over those items would be. -#}
{% macro cost_sums_difference(whole, part) -%}
    {%- set measures = cost_sums_measures() -%}
    {%- for measure in measures['counts'] %}
    {{ whole }}.{{ measure }} - coalesce({{ part }}.{{ measure }}, 0) as {{ measure }},
    {%- endfor %}
    {%- for amount, carried_by in measures['amounts'].items() %}
    case
        when {{ whole }}.{{ carried_by }} - coalesce({{ part }}.{{ carried_by }}, 0) > 0
            then coalesce({{ whole }}.{{ amount }}, 0) - coalesce({{ part }}.{{ amount }}, 0)
    end as {{ amount }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
