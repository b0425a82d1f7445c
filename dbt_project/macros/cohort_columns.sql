{#- The cohort keys that get a column of their own in fct_batch_items and cost_by_job
    (var('cohort_columns'), team and project by default), checked to be plain lowercase
    identifiers before they name a column or reach SQL as a literal. -#}
{% macro cohort_columns() -%}
    {%- set keys = var('cohort_columns', ['team', 'project']) -%}
    {%- for key in keys -%}
        {%- if not modules.re.fullmatch('[a-z][a-z0-9_]{0,62}', key | string) -%}
            {{ exceptions.raise_compiler_error(
                "cohort_columns: '" ~ key ~ "' is not a lowercase identifier"
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(keys) -%}
{%- endmacro %}

{#- The keys of cohort_columns() as a list of SQL string literals: 'team', 'project'. -#}
{% macro cohort_key_list() -%}
    {%- for key in cohort_columns() -%}
        '{{ key }}'{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
