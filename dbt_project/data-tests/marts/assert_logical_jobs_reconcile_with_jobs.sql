-- cost_by_logical_job regroups cost_by_job by root without losing or doubling anything:
-- the same number of jobs, submitted items, tokens and billed cost in total. Fails with one
-- row when a total differs.
with

jobs as (

    select * from {{ ref('cost_by_job') }}

),

logical_jobs as (

    select * from {{ ref('cost_by_logical_job') }}

),

job_totals as (

    select
        count(*) as jobs,
        coalesce(sum(items_total), 0) as items,
        coalesce(cast(sum(total_tokens) as bigint), 0) as total_tokens,
        sum(cost_usd) as cost_usd

    from jobs

),

logical_totals as (

    select
        coalesce(sum(jobs), 0) as jobs,
        coalesce(sum(items_attempted), 0) as items,
        coalesce(cast(sum(total_tokens) as bigint), 0) as total_tokens,
        sum(cost_usd) as cost_usd

    from logical_jobs

)

select
    job_totals.*,
    logical_totals.jobs as logical_jobs,
    logical_totals.items as logical_items_attempted,
    logical_totals.total_tokens as logical_total_tokens,
    logical_totals.cost_usd as logical_cost_usd

from job_totals
cross join logical_totals
where
    job_totals.jobs != logical_totals.jobs
    or job_totals.items != logical_totals.items
    or job_totals.total_tokens != logical_totals.total_tokens
    or job_totals.cost_usd is distinct from logical_totals.cost_usd
