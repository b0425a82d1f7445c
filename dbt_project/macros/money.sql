{#- Money arithmetic without floating point. DuckDB turns DECIMAL division into DOUBLE, so
    neither macro divides: the per-million rate is scaled by an exact DECIMAL 0.000001, and
    ratios use integer division on HUGEINT. -#}

{#- USD for `tokens` at `usd_per_million_tokens`, as DECIMAL(38, 18).
    A rate has at most 9 fractional digits (the seed type), so rate * 0.000001 is exact in
    DECIMAL(18, 15), and tokens * that is exact in DECIMAL(38, 15). -#}
{% macro usd_for_tokens(tokens, usd_per_million_tokens) -%}
    cast(
        cast({{ tokens }} as decimal(20, 0))
        * cast(
            cast({{ usd_per_million_tokens }} as decimal(18, 9)) * cast(0.000001 as decimal(7, 6))
            as decimal(18, 15)
        )
        as decimal(38, 18)
    )
{%- endmacro %}

{#- USD per million tokens: usd * 1e6 / tokens, truncated to 12 decimal places, as
    DECIMAL(38, 12); null when tokens is zero or null. Exact for usd below 1e14. -#}
{% macro usd_per_million_tokens(usd, tokens) -%}
    case
        when {{ tokens }} > 0 then
            cast(
                cast(cast({{ usd }} as decimal(38, 12)) * 1000000000000 as hugeint)
                * 1000000
                // cast({{ tokens }} as hugeint)
                as decimal(38, 0)
            ) * cast(0.000000000001 as decimal(13, 12))
    end
{%- endmacro %}
