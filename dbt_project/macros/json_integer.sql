{#- The JSON `value` (one field already extracted from a document) as a BIGINT when it is a
    JSON integer that fits one; null when it is missing or anything else (a string, a float
    such as 1e20 or 12.0, an object, an integer past BIGINT). A cast, never an error:
    provider data must not fail the build. -#}
{% macro json_integer(value) -%}
    case
        when json_type({{ value }}) in ('BIGINT', 'UBIGINT')
            then try_cast(cast({{ value }} as varchar) as bigint)
    end
{%- endmacro %}

{#- Why the token count in the JSON `value` (the usage field `name`) cannot be billed, or
    null when it can: present and a JSON integer from 0 to var('max_tokens_per_line'). A
    `required` count must be present. -#}
{% macro usage_field_issue(value, name, required=false) -%}
    case
        when coalesce(json_type({{ value }}), 'NULL') = 'NULL'
            then {{ "'" ~ name ~ " is missing'" if required else 'null' }}
        when {{ json_integer(value) }} between 0 and {{ var('max_tokens_per_line') }}
            then null
        else '{{ name }} is ' || left(cast({{ value }} as varchar), 80)
    end
{%- endmacro %}
