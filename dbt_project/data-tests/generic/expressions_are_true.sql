{#- Fails on every row and expression where the expression is false or null, naming the
    expression. `expressions` lists the checks of one model: each a SQL expression, or a
    mapping of `expression` and `where` (the rows it applies to). One test for a model's
    row checks, not one per check: each test is a node that dbt compiles, runs and records,
    and on an incremental build that overhead, not the scan, is most of a test's cost.
    dbt reports only how many rows failed; a failed build names the checks that failed, from
    `failed_expression` (batchledger/build.py, failures_with_checks). -#}
{% test expressions_are_true(model, expressions) %}

{% for check in expressions -%}
{%- set expression = check.expression if check is mapping else check -%}
{%- set applies = check.get('where') if check is mapping else none -%}
select
    '{{ expression | trim | replace("'", "''") }}' as failed_expression,
    *
from {{ model }}
where
    {% if applies -%}
    ({{ applies }}) and
    {% endif -%}
    not coalesce(({{ expression }}), false)
{{ 'union all' if not loop.last }}
{% endfor %}

{% endtest %}
