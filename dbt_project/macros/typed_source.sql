{#- Select `columns` (an ordered mapping of column name to SQL type) from a raw dlt table,
    cast to the types of the ingest contract.

    dlt creates a table only once a row arrives and a column only once it sees a non-null
    value, so on an early ingest a table or column may not exist yet. A missing column reads
    as a typed null and a missing table as no rows, instead of failing the whole build.
    `source()` is always called, so lineage and docs still show the dependency. -#}
{% macro typed_source(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set present = [] -%}
    {%- set table_exists = [] -%}
    {%- if execute -%}
        {%- set found = adapter.get_relation(
            database=relation.database,
            schema=relation.schema,
            identifier=relation.identifier,
        ) -%}
        {%- if found is not none -%}
            {%- do table_exists.append(true) -%}
            {%- for column in adapter.get_columns_in_relation(found) -%}
                {%- do present.append(column.name | lower) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif %}
    select
    {%- for name, data_type in columns.items() %}
        {% if name in present -%}
            cast({{ adapter.quote(name) }} as {{ data_type }})
        {%- else -%}
            cast(null as {{ data_type }})
        {%- endif %} as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    {% if table_exists -%}
    from {{ relation }}
    {%- else -%}
    where false
    {%- endif %}
{%- endmacro %}
