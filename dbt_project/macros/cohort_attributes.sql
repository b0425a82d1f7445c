{#- An item's cohort, computed per row from columns the item already has: no union of
    attribute rows, no aggregate per item and key, no join back on batch_item_id (at 1M items
    those cost more than the rest of fct_batch_items, and ran the request-result join chain a
    second time).

    An attribute is a struct (cohort_key, precedence, cohort_value, attribute_source):
    precedence 1 for the item's metadata, 2 for a named group of custom_id, 3 for a batch tag.
    Lists of attributes concatenate, whatever their source. -#}

{#- Every key of the metadata object in `metadata_column` (JSON): non-string values become
    their JSON text (2, true, {"a":1}), JSON nulls are dropped, a key given twice stays twice
    (cohort_attributes_resolved picks one). A non-object (array, string) has no attributes;
    a null one, a null list. -#}
{% macro metadata_attributes(metadata_column) -%}
    case
        when json_type({{ metadata_column }}) = 'OBJECT' then [
            {
                'cohort_key': metadata_entry[1],
                'precedence': 1,
                'cohort_value': metadata_entry[2] ->> '$',
                'attribute_source': 'metadata'
            }
            for metadata_entry in list_zip(
                json_keys({{ metadata_column }}), json_extract({{ metadata_column }}, '$.*')
            )
            if json_type(metadata_entry[2]) != 'NULL'
        ]
    end
{%- endmacro %}

{#- The candidates for an item's cohort: its metadata's attributes, its custom_id's
    (custom_id_attributes.sql; none when `custom_id_column` is none) and
    `batch_tag_attributes_column` (its batch's tags as a list of attributes, or null),
    without those whose key or value is null. -#}
{% macro cohort_attribute_candidates(
    metadata_column, custom_id_column, batch_tag_attributes_column
) -%}
    {%- set from_custom_id = (custom_id_attributes(custom_id_column) | trim)
        if custom_id_column else '' -%}
    [
        candidate for candidate in list_concat(
            {{ metadata_attributes(metadata_column) }},
            {% if from_custom_id -%}
            {{ from_custom_id }},
            {% endif -%}
            {{ batch_tag_attributes_column }}
        )
        if candidate.cohort_key is not null and candidate.cohort_value is not null
    ]
{%- endmacro %}

{#- One attribute per key among the candidates in `candidates_column` (a list column, so that
    it is computed once per row), sorted by key: the item's metadata wins, then its custom_id,
    then the batch's tags. A key that metadata gives twice (a provider or caller bug) takes the
    smaller value, so every build picks the same one: the winner is the candidate with no
    rival of the same key that is smaller in (precedence, cohort_value). Exact duplicates are
    one. -#}
{% macro cohort_attributes_resolved(candidates_column) -%}
    list_sort(list_distinct([
        candidate for candidate in {{ candidates_column }}
        if len([
            rival for rival in {{ candidates_column }}
            if
                rival.cohort_key = candidate.cohort_key
                and { 'precedence': rival.precedence, 'cohort_value': rival.cohort_value }
                < { 'precedence': candidate.precedence, 'cohort_value': candidate.cohort_value }
        ]) = 0
    ]))
{%- endmacro %}
