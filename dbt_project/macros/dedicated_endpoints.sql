{#- Dedicated endpoints (prices/README.md, "Dedicated endpoints"): the one home of how a
    billing window's cost is computed and how much of it the batch jobs that ran in it carry.
    int_batch_items_allocated computes the jobs' intervals and the window's busy time (once
    per build) and splits the share among jobs and items; the mart dedicated_endpoint_costs
    reports it, with the busy time the items carry, and the idle remainder. -#}

{#- A window's cost: usd_per_hour * billed_seconds / 3600, truncated to the picodollar
    (12 decimal places) because a rate divided by 3600 need not terminate. DECIMAL(38, 18). -#}
{% macro dedicated_window_cost_usd(usd_per_hour, billed_seconds) -%}
    {{ usd_scaled(usd_per_hour, billed_seconds, '3600') }}
{%- endmacro %}

{#- The part of a window's cost the batch jobs carry: the cost times the share of the window
    in which at least one of them was running (busy / window milliseconds), truncated to the
    picodollar; 0 when the jobs used no tokens in the window (nothing to share it by). The
    rest is the window's idle remainder. DECIMAL(38, 18). -#}
{% macro dedicated_allocated_usd(endpoint_cost_usd, busy_milliseconds, billed_seconds, window_tokens) -%}
    case
        when {{ window_tokens }} > 0 then
            {{ usd_scaled(
                endpoint_cost_usd,
                'least(' ~ busy_milliseconds ~ ', ' ~ billed_seconds ~ ' * 1000)',
                billed_seconds ~ ' * 1000'
            ) }}
        else cast(0 as decimal(38, 18))
    end
{%- endmacro %}

{#- When a job ran on an endpoint within a window: from its creation (or its first usage
    time there, if earlier) to its completion (or its last usage time there, if later or if
    it has not completed), clipped to the window. -#}
{% macro dedicated_job_started_at(created_at, first_used_at, billed_from) -%}
    greatest(least({{ created_at }}, {{ first_used_at }}), {{ billed_from }})
{%- endmacro %}

{% macro dedicated_job_ended_at(completed_at, last_used_at, billed_to) -%}
    least(greatest(coalesce({{ completed_at }}, {{ last_used_at }}), {{ last_used_at }}), {{ billed_to }})
{%- endmacro %}

{#- A select of (endpoint_window_id, busy_milliseconds): per window, the length of the union
    of the intervals [started_at, ended_at) of `intervals` (a relation or CTE with those
    three columns), so that two jobs running at once count their common time once. -#}
{% macro interval_union_milliseconds(intervals) -%}
    with

    running as (

        select
            endpoint_window_id,
            started_at,
            ended_at,
            max(ended_at) over (
                partition by endpoint_window_id
                order by started_at, ended_at
                rows between unbounded preceding and 1 preceding
            ) as reached_at

        from {{ intervals }}
        where ended_at > started_at

    ),

    islands as (

        select
            endpoint_window_id,
            started_at,
            ended_at,
            sum(case when reached_at is null or started_at > reached_at then 1 else 0 end) over (
                partition by endpoint_window_id
                order by started_at, ended_at
                rows between unbounded preceding and current row
            ) as island

        from running

    ),

    merged as (

        select
            endpoint_window_id,
            island,
            min(started_at) as started_at,
            max(ended_at) as ended_at

        from islands
        group by endpoint_window_id, island

    )

    select
        endpoint_window_id,
        cast(sum(epoch_ms(ended_at) - epoch_ms(started_at)) as bigint) as busy_milliseconds

    from merged
    group by endpoint_window_id
{%- endmacro %}

{#- Whether any item of this build can be a dedicated item: some batch names a dedicated
    endpoint (int_dedicated_batches_matched, which covers everything an item's model can come
    from), or an endpoint is named '(unknown)', the model of an item nothing names. Asked when
    dbt compiles int_batch_items_allocated into its mart, just before the mart runs and after
    both views are built. When none can be, the allocation reads the priced items once
    instead of twice: read twice, DuckDB holds every priced item of the build (about 0.5 GB
    per million) to read it again, and spills it under the dbt child's memory limit. True
    while dbt parses, and when a view does not exist (a lint, a compile without a build):
    the full form, never a wrong one. -#}
{% macro dedicated_items_possible() -%}
    {#- Called while parsing too, so that dbt records both views as parents. -#}
    {%- set matched = ref('int_dedicated_batches_matched') -%}
    {%- set endpoints = ref('int_dedicated_endpoints_unioned') -%}
    {%- if not execute -%}
        {%- do return(true) -%}
    {%- endif -%}
    {%- if load_relation(matched) is none or load_relation(endpoints) is none -%}
        {%- do return(true) -%}
    {%- endif -%}
    {%- set found = run_query(
        "select exists (select 1 from " ~ matched ~ ")"
        ~ " or exists (select 1 from " ~ endpoints ~ " where endpoint_key = '(unknown)')"
    ) -%}
    {%- do return(found.columns[0].values()[0]) -%}
{%- endmacro %}
