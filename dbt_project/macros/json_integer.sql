{#- The value at `path` of the JSON `doc` as a BIGINT when it is a JSON integer that fits one;
    null when it is missing or anything else (a string, a float such as 1e20 or 12.0, an
    object, an integer past BIGINT). A cast, never an error: provider data must not fail the
    build. -#}
{% macro json_integer(doc, path) -%}
    case
        when json_type({{ doc }}, '{{ path }}') in ('BIGINT', 'UBIGINT')
            then try_cast(json_extract_string({{ doc }}, '{{ path }}') as bigint)
    end
{%- endmacro %}

{#- Why the token count at `path` of the usage object `doc` cannot be billed, or null when
    it can: present and a JSON integer from 0 to var('max_tokens_per_line'). A `required`
    count must be present. -#}
{% macro usage_field_issue(doc, path, required=false) -%}
    {%- set name = path[2:] -%}
    case
        when coalesce(json_type({{ doc }}, '{{ path }}'), 'NULL') = 'NULL'
            then {{ "'" ~ name ~ " is missing'" if required else 'null' }}
        when {{ json_integer(doc, path) }} between 0 and {{ var('max_tokens_per_line') }}
            then null
        else '{{ name }} is ' || left(json_extract({{ doc }}, '{{ path }}')::varchar, 80)
    end
{%- endmacro %}
