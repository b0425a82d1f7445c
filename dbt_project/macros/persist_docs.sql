{#- dbt-duckdb's comment quoting, with the description trimmed: YAML's folded `>` blocks end
    in a newline, which BI tools would show as part of every table comment. Same dollar-quoting
    and the same refusal of the quoting label as the adapter's own macro, which this one
    overrides by name. -#}
{% macro duckdb_escape_comment(comment) -%}
    {%- if comment is not string -%}
        {%- do exceptions.raise_compiler_error('cannot escape a non-string: ' ~ comment) -%}
    {%- endif -%}
    {%- set magic = '$dbt_comment_literal_block$' -%}
    {%- if magic in comment -%}
        {%- do exceptions.raise_compiler_error(
            'The string ' ~ magic ~ ' is not allowed in comments.'
        ) -%}
    {%- endif -%}
    {{ magic }}{{ comment | trim }}{{ magic }}
{%- endmacro %}
