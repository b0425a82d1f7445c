{#- Together's batch statuses. The same lists as pipelines/batchledger/statuses.py:
    tests/warehouse/test_statuses.py keeps the two in step. -#}

{% macro terminal_batch_statuses() -%}
    {#- Output and error files no longer change after these. -#}
    {{ return(['COMPLETED', 'FAILED', 'EXPIRED', 'CANCELLED']) }}
{%- endmacro %}

{% macro batch_status_aliases() -%}
    {#- Other spellings of Together's statuses, read as the status they name. -#}
    {{ return({'CANCELED': 'CANCELLED', 'CANCELLING': 'CANCELING'}) }}
{%- endmacro %}

{% macro is_terminal_batch_status(column) -%}
    {%- set terminal = terminal_batch_statuses() -%}
    {%- set spellings = terminal[:] -%}
    {%- for alias, status in batch_status_aliases().items() if status in terminal -%}
        {%- do spellings.append(alias) -%}
    {%- endfor -%}
    upper({{ column }}) in ('{{ spellings | join("', '") }}')
{%- endmacro %}
