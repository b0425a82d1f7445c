{#- dbt calls this for every generic test to get the relation the test reads: the tested
    model, filtered by the test's `where` config. batchledger narrows it on an incremental
    build, for the incremental marts that record `_build_id` (the item mart and
    data_quality_issues), and that is equivalent to testing the whole table:
    - a row check (not_null, accepted_values, relationships, expression_is_true) reads the
      rows this build wrote. Rows of earlier builds were checked by the build that wrote
      them and never change after: delete+insert replaces a batch's rows whole, and the new
      rows carry this build's `_build_id`.
    - a key check (unique, unique_combination_of_columns) reads every row whose key is a key
      of a row this build wrote: a new key is checked against the whole table, so a
      collision with an old row is still caught.
    A full build (first build, --full-refresh, changed prices or models) tests every row.
    At 10M items whole-table tests were most of the cost of a run with one new job. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set filtered = '(select * from ' ~ relation ~ ' where ' ~ where ~ ')' if where else relation -%}
    {#- The graph lookup first: load_id_var runs two queries, and most tests need neither. -#}
    {%- if not (execute and tests_incremental_mart() and load_id_var('since_load_id')) -%}
        {%- do return(filtered ~ ' dbt_subquery' if where else relation) -%}
    {%- endif -%}
    {%- set this_build = '_build_id = ' ~ build_id() -%}
    {%- set keys = tested_keys() -%}
    {%- if keys -%}
        {#- IS NOT DISTINCT FROM, not USING: the key tests group NULL keys together, so a
            NULL key of this build must meet the other rows' NULL keys too. A key may be an
            expression over the row's columns, hence key_1, key_2 ... on the built side. -#}
        {%- set scoped -%}
            (
                select all_rows.* from {{ filtered }} as all_rows
                semi join (
                    select
                        {% for key in keys -%}
                        {{ key }} as key_{{ loop.index }}{{ ',' if not loop.last }}
                        {% endfor -%}
                    from {{ filtered }} as built
                    where built.{{ this_build }}
                ) as built_keys on
                    {% for key in keys -%}
                    ({{ key }}) is not distinct from built_keys.key_{{ loop.index }}
                    {{ 'and' if not loop.last }}
                    {% endfor %}
            ) dbt_subquery
        {%- endset -%}
    {%- else -%}
        {%- set scoped -%}
            (select * from {{ filtered }} as all_rows where all_rows.{{ this_build }}) dbt_subquery
        {%- endset -%}
    {%- endif -%}
    {%- do return(scoped) -%}
{%- endmacro %}

{#- Whether the generic test being compiled tests an incremental model that records the
    build of each row (`attached_node` is the model a generic test belongs to). -#}
{% macro tests_incremental_mart() -%}
    {%- set attached = model.get('attached_node') -%}
    {%- set node = graph.nodes.get(attached) if attached else none -%}
    {%- do return(
        node is not none
        and node.config.materialized == 'incremental'
        and '_build_id' in node.columns
    ) -%}
{%- endmacro %}

{#- The key columns of the generic test being compiled, when it is a uniqueness test; none
    for a row check. -#}
{% macro tested_keys() -%}
    {%- set test = model.get('test_metadata') or {} -%}
    {%- set arguments = test.get('kwargs') or {} -%}
    {%- if test.get('name') == 'unique' -%}
        {%- do return([arguments.get('column_name')]) -%}
    {%- elif test.get('name') == 'unique_combination_of_columns' -%}
        {%- do return(arguments.get('combination_of_columns')) -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}
