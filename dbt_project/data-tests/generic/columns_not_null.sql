{#- Fails on every row where any of `column_names` is null, naming those columns. One test
    for the many required columns of a mart, not one per column: each test is a node that
    dbt compiles, runs and records, and on an incremental build that overhead, not the scan,
    was most of a test's cost. Key columns keep their own `not_null` beside `unique`. -#}
{% test columns_not_null(model, column_names) %}

select
    concat_ws(
        ', ',
        {% for column in column_names -%}
        case when {{ column }} is null then '{{ column }}' end{{ ',' if not loop.last }}
        {% endfor -%}
    ) as null_columns,
    *
from {{ model }}
where
    {% for column in column_names -%}
    {{ column }} is null{{ ' or' if not loop.last }}
    {% endfor %}

{% endtest %}
