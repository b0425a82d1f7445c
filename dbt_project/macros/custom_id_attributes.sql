{#- One select per named group of var('custom_id_cohort_pattern'), each returning
    (batch_item_id, cohort_key, cohort_value) from `relation_name`; an empty typed select when
    the var is empty. Group numbers come from Python's re, which reads the same (?P<name>...)
    syntax as DuckDB's RE2; an unmatched group reads as '' and is dropped. -#}
{% macro custom_id_attributes(relation_name) -%}
    {%- set pattern = var('custom_id_cohort_pattern', '') -%}
    {%- set groups = modules.re.compile(pattern).groupindex.items() | list if pattern else [] -%}
    {%- if groups -%}
        {%- for group_name, group_number in groups %}
    select
        {{ relation_name }}.batch_item_id,
        '{{ group_name }}' as cohort_key,
        nullif(
            regexp_extract({{ relation_name }}.custom_id, '{{ pattern | replace("'", "''") }}', {{ group_number }}),
            ''
        ) as cohort_value
    from {{ relation_name }}
            {%- if not loop.last %}
    union all
            {%- endif %}
        {%- endfor %}
    {%- else %}
    select
        cast(null as varchar) as batch_item_id,
        cast(null as varchar) as cohort_key,
        cast(null as varchar) as cohort_value
    where false
    {%- endif %}
{%- endmacro %}
