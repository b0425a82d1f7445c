{#- The batch ids whose items this build computes, as a select of batch_id.

    A full build (since_load_id empty, as on `--full-refresh` or a first build) takes
    every batch. An incremental build takes only the batches whose raw inputs arrived in a
    dlt load after `since_load_id`: the batch row itself (the ingest rewrites it only when it
    changed), lines of any of its files, a load record of any of its files, or a tag
    recorded by `submit`. dlt load ids are unix timestamps as text with the same number of
    integer digits, so they compare as text. -#}
{% macro batches_to_build() -%}
    {%- set since = load_id_var('since_load_id') -%}
    {%- if not since %}
    select all_batches.batch_id from {{ ref('stg_together__batches') }} as all_batches
    {%- else %}
    {#- A batch on a dedicated endpoint changes the token shares of every other batch in
        its billing windows: all the batches on that endpoint are rebuilt with it (a few). #}
    select peer_batches.batch_id
    from {{ ref('int_dedicated_batches_matched') }} as peer_batches
    where peer_batches.endpoint in (
        select changed_endpoints.endpoint
        from {{ ref('int_dedicated_batches_matched') }} as changed_endpoints
        where changed_endpoints.batch_id in ({{ changed_batches() }})
    )
    union
    {{ changed_batches() }}
    {%- endif %}
{%- endmacro %}

{#- The batches whose own raw inputs arrived after since_load_id (see batches_to_build). -#}
{% macro changed_batches() -%}
    {%- set since = load_id_var('since_load_id') -%}
    select changed_batches.batch_id
    from {{ ref('stg_together__batches') }} as changed_batches
    where
        changed_batches.load_id > '{{ since }}'
        or changed_batches.batch_id in (
            select new_results.batch_id
            from {{ ref('stg_together__batch_results') }} as new_results
            where new_results.load_id > '{{ since }}'
        )
        or changed_batches.input_file_id in (
            select new_requests.input_file_id
            from {{ ref('stg_together__batch_requests') }} as new_requests
            where new_requests.load_id > '{{ since }}'
        )
        or changed_batches.batch_id in (
            -- A newly listed or changed dedicated endpoint can change how its jobs are priced.
            select named_endpoints.batch_id
            from {{ ref('int_dedicated_batches_matched') }} as named_endpoints
            inner join {{ ref('stg_together__endpoints') }} as new_endpoints
                on lower(named_endpoints.endpoint) = lower(new_endpoints.endpoint)
            where new_endpoints.load_id > '{{ since }}'
        )
        or changed_batches.batch_id in (
            select new_tags.batch_id
            from {{ ref('stg_batchledger__batch_tags') }} as new_tags
            where new_tags.load_id > '{{ since }}'
        )
        or exists (
            select 1
            from {{ ref('stg_together__file_loads') }} as new_loads
            where
                new_loads.load_id > '{{ since }}'
                and new_loads.file_id in (
                    changed_batches.input_file_id,
                    changed_batches.output_file_id,
                    changed_batches.error_file_id
                )
        )
{%- endmacro %}

{#- A predicate keeping the rows of `column` (a batch id) that this build computes: always
    true on a full build, so nothing a full build sees depends on the batch list. On an
    incremental build, the list is int_batches_to_build, computed once per build: inlined,
    batches_to_build() would be planned and run again by every model and test that asks.
    batchledger always runs `dbt build`, which rebuilds the list first; a `dbt test` run by
    hand reads the list the last build left. -#}
{% macro is_batch_to_build(column) -%}
    {%- if load_id_var('since_load_id') -%}
        {{ column }} in (
            select batches_to_build.batch_id
            from {{ ref('int_batches_to_build') }} as batches_to_build
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- A load or build id of this build (digits, maybe a fraction), checked before it reaches
    any SQL. batchledger writes them to _batchledger_build.build_scope in the working database
    before each build (build.py, write_build_scope), and they are read here at compile time: a
    changed dbt var or environment variable would make dbt re-parse what reads it, seconds on
    every build. Without that table (dbt run by hand), the dbt var of the same name. -#}
{% macro load_id_var(name) -%}
    {%- if name not in ('since_load_id', 'build_id') -%}
        {{ exceptions.raise_compiler_error("load_id_var: unknown name " ~ name) }}
    {%- endif -%}
    {%- if not execute -%}
        {#- Parsing: a non-empty placeholder, so that dbt records every ref of the
            incremental form (a build of either kind then needs no re-parse). -#}
        {%- do return('0') -%}
    {%- endif -%}
    {%- set value = var(name, '') | string -%}
    {%- set found = run_query(
        "select count(*) from duckdb_tables() where database_name = current_database()"
        ~ " and schema_name = '_batchledger_build' and table_name = 'build_scope'"
    ) -%}
    {%- if found.columns[0].values()[0] > 0 -%}
        {%- set scope = run_query("select " ~ name ~ " from _batchledger_build.build_scope") -%}
        {%- set value = (scope.columns[0].values()[0] or '') | string -%}
    {%- endif -%}
    {%- if value and not modules.re.fullmatch('[0-9]+(\\.[0-9]+)?', value) -%}
        {{ exceptions.raise_compiler_error(name ~ " must be a dlt load id, got: " ~ value) }}
    {%- endif -%}
    {%- do return(value) -%}
{%- endmacro %}

{#- The id batchledger gives this build (var build_id, increasing from build to build), as a
    SQL string literal; '' when dbt runs without batchledger. -#}
{% macro build_id() -%}
    '{{ load_id_var('build_id') }}'
{%- endmacro %}
