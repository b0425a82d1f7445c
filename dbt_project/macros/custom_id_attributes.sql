{#- The item's cohort attributes from var('custom_id_cohort_pattern') over `custom_id_column`,
    as a list of attributes (see cohort_attributes.sql): one per named group, precedence 2;
    an unmatched group reads as '' and becomes null (dropped by cohort_attribute_candidates).
    Group numbers come from Python's re, which reads the same (?P<name>...) syntax as DuckDB's
    RE2. None: the var is empty, or names no group. -#}
{% macro custom_id_attributes(custom_id_column) -%}
    {%- set pattern = var('custom_id_cohort_pattern', '') -%}
    {%- set groups = modules.re.compile(pattern).groupindex.items() | list if pattern else [] -%}
    {%- if groups -%}
    [
        {%- for group_name, group_number in groups %}
        {
            'cohort_key': '{{ group_name }}',
            'precedence': 2,
            'cohort_value': nullif(
                regexp_extract({{ custom_id_column }}, '{{ pattern | replace("'", "''") }}', {{ group_number }}),
                ''
            ),
            'attribute_source': 'custom_id'
        }{{ "," if not loop.last }}
        {%- endfor %}
    ]
    {%- endif -%}
{%- endmacro %}
