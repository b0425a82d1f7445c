{#- Fails once per pair of rows in the same partition whose half-open windows
    [lower_bound, upper_bound) overlap; a null upper bound means open-ended. Rows are told
    apart by `row_id`. Empty windows (lower = upper) overlap nothing. -#}
{% test windows_do_not_overlap(model, partition_by, lower_bound, upper_bound, row_id) %}

with

windows as (

    select
        {% for column in partition_by -%}
        {{ column }},
        {% endfor -%}
        {{ row_id }} as row_id,
        {{ lower_bound }} as lower_bound,
        {{ upper_bound }} as upper_bound
    from {{ model }}

)

select
    {% for column in partition_by -%}
    earlier.{{ column }},
    {% endfor -%}
    earlier.row_id,
    earlier.lower_bound,
    earlier.upper_bound,
    later.row_id as overlapping_row_id,
    later.lower_bound as overlapping_lower_bound,
    later.upper_bound as overlapping_upper_bound
from windows as earlier
inner join windows as later
    on earlier.row_id < later.row_id
    {% for column in partition_by -%}
    and earlier.{{ column }} = later.{{ column }}
    {% endfor -%}
    and (later.upper_bound is null or earlier.lower_bound < later.upper_bound)
    and (earlier.upper_bound is null or later.lower_bound < earlier.upper_bound)
    and (earlier.upper_bound is null or earlier.lower_bound < earlier.upper_bound)
    and (later.upper_bound is null or later.lower_bound < later.upper_bound)

{% endtest %}
