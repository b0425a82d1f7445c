with

endpoint_windows as (

    select * from {{ ref('stg_prices__dedicated_endpoints') }}

),

dedicated_endpoints as (

    select * from {{ ref('int_dedicated_endpoints_unioned') }}

),

dedicated_batches as (

    select * from {{ ref('int_dedicated_batches_matched') }}

),

items as (

    select * from {{ ref('fct_batch_items') }}
    where endpoint_window_id is not null

),

account_endpoints as (

    -- The endpoints this account knows: listed by its API, or named by one of its jobs.
    -- The seed serves every warehouse of a checkout (the demo's and real accounts'), so a
    -- window of an endpoint the account never named is listed, never costed here.
    select
        dedicated_endpoints.provider,
        dedicated_endpoints.endpoint

    from dedicated_endpoints
    where dedicated_endpoints.is_listed_by_api

    union

    select
        dedicated_batches.provider,
        dedicated_batches.endpoint

    from dedicated_batches

),

windows_costed as (

    select
        endpoint_windows.*,
        account_endpoints.endpoint is not null as is_costed,
        case
            when account_endpoints.endpoint is not null then
                {{ dedicated_window_cost_usd(
                    'endpoint_windows.usd_per_hour', 'endpoint_windows.billed_seconds'
                ) }}
        end as endpoint_cost_usd

    from endpoint_windows
    left join account_endpoints
        on endpoint_windows.provider = account_endpoints.provider
        and lower(endpoint_windows.endpoint) = lower(account_endpoints.endpoint)

),

job_windows as (

    -- The jobs that ran in each window, with their allocated cost (the sum of their items').
    select
        items.endpoint_window_id,
        items.batch_id,
        count(*) as items_total,
        cast(sum(items.total_tokens) as bigint) as total_tokens,
        sum(items.cost_usd) as cost_usd

    from items
    group by items.endpoint_window_id, items.batch_id

),

window_jobs as (

    select
        job_windows.endpoint_window_id,
        count(*) as jobs,
        sum(job_windows.cost_usd) as allocated_usd

    from job_windows
    group by job_windows.endpoint_window_id

),

window_busy as (

    -- The window's busy time comes with its items: computed once, where their shares were
    -- (int_batch_items_allocated), the same on every item of the window.
    select
        items.endpoint_window_id,
        max(items.endpoint_window_busy_milliseconds) as busy_milliseconds

    from items
    group by items.endpoint_window_id

),

window_lines as (

    select
        windows_costed.*,
        coalesce(window_busy.busy_milliseconds, 0) as busy_milliseconds,
        coalesce(window_jobs.jobs, 0) as jobs,
        coalesce(window_jobs.allocated_usd, 0) as allocated_usd

    from windows_costed
    left join window_busy
        on windows_costed.endpoint_window_id = window_busy.endpoint_window_id
    left join window_jobs
        on windows_costed.endpoint_window_id = window_jobs.endpoint_window_id

),

job_lines as (

    select
        window_lines.*,
        'job' as line_kind,
        job_windows.batch_id,
        job_windows.items_total,
        job_windows.total_tokens,
        job_windows.cost_usd

    from window_lines
    inner join job_windows
        on window_lines.endpoint_window_id = job_windows.endpoint_window_id

),

idle_lines as (

    -- What the jobs did not carry: time with no batch job running (idle, or real-time
    -- traffic batchledger cannot see). Never spread over the jobs.
    select
        window_lines.*,
        case when window_lines.is_costed then 'idle' else 'not_this_account' end as line_kind,
        cast(null as varchar) as batch_id,
        cast(0 as bigint) as items_total,
        cast(0 as bigint) as total_tokens,
        cast(window_lines.endpoint_cost_usd - window_lines.allocated_usd as decimal(38, 18))
            as cost_usd

    from window_lines

),

lines as (

    select * from job_lines
    union all by name
    select * from idle_lines

),

final as (

    select
        -- The kind is a field of its own: a batch whose id is "idle" must not collide with
        -- the window's idle row.
        lines.endpoint_window_id || '|' || lines.line_kind
        || coalesce('|' || lines.batch_id, '') as dedicated_cost_line_id,
        lines.endpoint_window_id,
        lines.provider,
        lines.endpoint,
        lines.endpoint_model,
        lines.hardware,
        lines.usd_per_hour,
        lines.billed_from,
        lines.billed_to,
        lines.billed_seconds,
        lines.usage_month,
        lines.is_costed,
        lines.jobs,
        cast(lines.busy_milliseconds as decimal(18, 0)) * cast(0.001 as decimal(4, 3))
            as busy_seconds,
        lines.endpoint_cost_usd,
        lines.line_kind,
        lines.batch_id,
        lines.items_total,
        lines.total_tokens,
        lines.cost_usd,
        lines.price_source

    from lines

)

select * from final
