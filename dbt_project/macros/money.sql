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

{#- USD for an item's input tokens: the uncached share at the input rate, and `cached_tokens`
    at the cached rate (0 when the row has none: the caller then passes 0 cached tokens, so
    they stay in the uncached share). -#}
{% macro input_cost_usd(prompt_tokens, cached_tokens, usd_per_million_input, usd_per_million_cached) -%}
    {{ usd_for_tokens(prompt_tokens ~ ' - ' ~ cached_tokens, usd_per_million_input) }}
    + {{ usd_for_tokens(cached_tokens, 'coalesce(' ~ usd_per_million_cached ~ ', 0)') }}
{%- endmacro %}

{#- The one exact division. `numerator` // `denominator` (both HUGEINT; the caller scales
    the numerator by 10^digits) as a DECIMAL with `digits` decimal places, truncated.
    DuckDB would turn a DECIMAL division into DOUBLE; integer division on HUGEINT is exact. -#}
{% macro exact_quotient(numerator, denominator, digits) -%}
    cast(({{ numerator }}) // ({{ denominator }}) as decimal(38, 0))
    * cast({{ '0.' ~ '0' * (digits - 1) ~ '1' }} as decimal({{ digits + 1 }}, {{ digits }}))
{%- endmacro %}

{#- A USD amount (below 1e14) as HUGEINT picodollars: exact for its 12 decimal places. -#}
{% macro picodollars(usd) -%}
    cast(cast({{ usd }} as decimal(38, 12)) * 1000000000000 as hugeint)
{%- endmacro %}

{#- USD per million tokens: usd * 1e6 / tokens, truncated to 12 decimal places, as
    DECIMAL(38, 12); null when tokens is zero or null. Exact for usd below 1e14. -#}
{% macro usd_per_million_tokens(usd, tokens) -%}
    case
        when {{ tokens }} > 0 then
            {{ exact_quotient(
                picodollars(usd) ~ ' * 1000000', 'cast(' ~ tokens ~ ' as hugeint)', 12
            ) }}
    end
{%- endmacro %}

{#- usd * numerator / denominator for whole numbers numerator and denominator (e.g. seconds),
    as DECIMAL(38, 18) truncated to 12 decimal places; null when denominator is not positive.
    Exact for usd below 1e14 and numerator below 1e12. -#}
{% macro usd_scaled(usd, numerator, denominator) -%}
    case
        when {{ denominator }} > 0 then
            cast(
                {{ exact_quotient(
                    picodollars(usd) ~ ' * cast(' ~ numerator ~ ' as hugeint)',
                    'cast(' ~ denominator ~ ' as hugeint)',
                    12
                ) }}
                as decimal(38, 18)
            )
    end
{%- endmacro %}

{#- 100 * part / whole as DECIMAL(18, 6), truncated (so a threshold is never
    reported as reached early); null when whole is below 1e-12 or null. part and whole are
    numbers below 1e14 (USD amounts or whole seconds). -#}
{% macro percent_of(part, whole) -%}
    case
        when {{ whole }} >= 0.000000000001 then
            cast(
                {{ exact_quotient(picodollars(part) ~ ' * 100000000', picodollars(whole), 6) }}
                as decimal(18, 6)
            )
    end
{%- endmacro %}

{#- USD for `seconds` of audio (DECIMAL(18, 6)) at `usd_per_audio_minute` (DECIMAL(18, 9)), as
    DECIMAL(38, 18): rate * seconds / 60 as an exact integer division of nano-dollars x
    microseconds (x 1000, for 18 decimal places) by 60, truncated to 18 decimal places. So it
    is exact whenever the per-second price (rate / 60) has at most 12 decimal places, as
    Whisper's 0.0015 and 0.00075 do; otherwise it falls short by less than 1e-18 USD. Exact
    for rates below 1e9 USD per minute and seconds below 1e9. -#}
{% macro usd_for_audio_seconds(seconds, usd_per_audio_minute) -%}
    cast(
        {{ exact_quotient(
            'cast(cast(' ~ usd_per_audio_minute ~ ' as decimal(18, 9)) * 1000000000 as hugeint)'
            ~ ' * cast(cast(' ~ seconds ~ ' as decimal(18, 6)) * 1000000 as hugeint) * 1000',
            60,
            18
        ) }}
        as decimal(38, 18)
    )
{%- endmacro %}
