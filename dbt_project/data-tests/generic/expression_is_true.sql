{#- Fails on every row where `expression` is false or null. Narrow the rows with the
    standard `config: where:`. -#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
