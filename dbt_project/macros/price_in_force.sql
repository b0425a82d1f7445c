{#- The join condition for the price row of `prices` in force for the item of `items` on its
    usage date: the same provider and model, valid_from on or before the date, and the row's
    effective end (its own valid_to, else the next row's valid_from) after it. One row at most:
    the seed's windows never overlap (tested in stg_prices__model_prices). -#}
{% macro price_in_force(items, prices) -%}
    {{ items }}.provider = {{ prices }}.provider
    and {{ items }}.model = {{ prices }}.model
    and {{ items }}.usage_date >= {{ prices }}.valid_from
    and (
        {{ prices }}.effective_valid_to is null
        or {{ items }}.usage_date < {{ prices }}.effective_valid_to
    )
{%- endmacro %}
