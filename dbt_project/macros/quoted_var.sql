{#- A dbt var as a SQL string literal, its quotes doubled ('' when unset). -#}
{% macro quoted_var(name) -%}
    '{{ var(name, '') | string | replace("'", "''") }}'
{%- endmacro %}
