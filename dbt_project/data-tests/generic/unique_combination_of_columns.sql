{#- Fails once per combination of `combination_of_columns` that occurs more than once,
    naming the combination and how many rows share it. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {% for column in combination_of_columns -%}
    {{ column }},
    {% endfor -%}
    count(*) as rows_sharing_key
from {{ model }}
group by all
having count(*) > 1

{% endtest %}
