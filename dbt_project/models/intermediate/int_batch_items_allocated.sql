with

batch_items as (

    select * from {{ ref('int_batch_items_priced') }}

),

dedicated_endpoints as (

    select * from {{ ref('int_dedicated_endpoints_unioned') }}

),

endpoint_windows as (

    select * from {{ ref('stg_prices__dedicated_endpoints') }}

),

batches as (

    select * from {{ ref('stg_together__batches') }}

),

dedicated_items as (

    -- Items whose model names a dedicated endpoint, with the billing window in force at
    -- their usage time, if any. On an incremental build every batch on such an endpoint is
    -- rebuilt with the one that changed (macros/batches_to_build.sql), so each window sees
    -- all of its jobs here.
    select
        batch_items.batch_item_id,
        batch_items.batch_id,
        dedicated_endpoints.endpoint as dedicated_endpoint,
        batch_items.used_at,
        batch_items.prompt_tokens,
        endpoint_windows.endpoint_window_id,
        endpoint_windows.billed_from,
        endpoint_windows.billed_to,
        endpoint_windows.billed_seconds,
        endpoint_windows.usd_per_hour,
        -- Flagged usage is never money, nor a share of one.
        case when batch_items.usage_issue is null then batch_items.total_tokens else 0 end
            as share_tokens,
        batch_items.usage_issue is null and endpoint_windows.endpoint_window_id is not null
            as is_allocated

    from batch_items
    inner join dedicated_endpoints
        on batch_items.provider = dedicated_endpoints.provider
        and lower(batch_items.model) = dedicated_endpoints.endpoint_key
    left join endpoint_windows
        on dedicated_endpoints.provider = endpoint_windows.provider
        and dedicated_endpoints.endpoint_key = lower(endpoint_windows.endpoint)
        and batch_items.used_at >= endpoint_windows.billed_from
        and batch_items.used_at < endpoint_windows.billed_to
    {%- if not dedicated_items_possible() %}
    -- No batch of this build names a dedicated endpoint, so no item is one: batch_items is
    -- then read once (macros/dedicated_endpoints.sql, dedicated_items_possible).
    where false
    {%- endif %}

),

job_windows as (

    -- The jobs that ran in each window: their items in it, flagged ones left out (those are
    -- in no window, as fct_batch_items and dedicated_endpoint_costs show them).
    select
        dedicated_items.endpoint_window_id,
        dedicated_items.batch_id,
        cast(sum(dedicated_items.share_tokens) as hugeint) as job_tokens,
        min(dedicated_items.used_at) as first_used_at,
        max(dedicated_items.used_at) as last_used_at

    from dedicated_items
    where dedicated_items.is_allocated
    group by dedicated_items.endpoint_window_id, dedicated_items.batch_id

),

job_intervals as (

    select
        job_windows.*,
        {{ dedicated_job_started_at(
            'batches.created_at', 'job_windows.first_used_at', 'endpoint_windows.billed_from'
        ) }} as started_at,
        {{ dedicated_job_ended_at(
            'batches.completed_at', 'job_windows.last_used_at', 'endpoint_windows.billed_to'
        ) }} as ended_at

    from job_windows
    inner join endpoint_windows
        on job_windows.endpoint_window_id = endpoint_windows.endpoint_window_id
    left join batches
        on job_windows.batch_id = batches.batch_id

),

window_busy as (

    -- The one place a build computes the busy time of a window: the items carry it
    -- (endpoint_window_busy_milliseconds), and dedicated_endpoint_costs reads it from them.
    -- A model of its own upstream of fct_batch_items would run the item steps (ephemeral)
    -- over every batch a second time.
    {{ interval_union_milliseconds('job_intervals') }}

),

window_costs as (

    select
        endpoint_windows.endpoint_window_id,
        sum(job_windows.job_tokens) as window_tokens,
        {{ picodollars(dedicated_allocated_usd(
            dedicated_window_cost_usd(
                'any_value(endpoint_windows.usd_per_hour)',
                'any_value(endpoint_windows.billed_seconds)'
            ),
            'coalesce(any_value(window_busy.busy_milliseconds), 0)',
            'any_value(endpoint_windows.billed_seconds)',
            'sum(job_windows.job_tokens)'
        )) }} as allocated_picodollars

    from job_windows
    inner join endpoint_windows
        on job_windows.endpoint_window_id = endpoint_windows.endpoint_window_id
    left join window_busy
        on job_windows.endpoint_window_id = window_busy.endpoint_window_id
    group by endpoint_windows.endpoint_window_id

),

job_shares_floored as (

    -- Largest remainder: each job gets its token share of the allocated picodollars rounded
    -- down, and the picodollars left over go one each to the jobs with the largest
    -- remainders (ties by batch_id), so the shares add up to the allocation exactly.
    select
        job_windows.endpoint_window_id,
        job_windows.batch_id,
        job_windows.job_tokens,
        window_costs.allocated_picodollars,
        coalesce(
            window_costs.allocated_picodollars * job_windows.job_tokens
            // nullif(window_costs.window_tokens, 0),
            0
        ) as floor_picodollars,
        coalesce(
            window_costs.allocated_picodollars * job_windows.job_tokens
            % nullif(window_costs.window_tokens, 0),
            0
        ) as remainder

    from job_windows
    inner join window_costs
        on job_windows.endpoint_window_id = window_costs.endpoint_window_id

),

job_shares as (

    select
        endpoint_window_id,
        batch_id,
        job_tokens,
        floor_picodollars
        + case
            when row_number() over (
                partition by endpoint_window_id order by remainder desc, batch_id asc
            ) <= allocated_picodollars - sum(floor_picodollars) over (
                partition by endpoint_window_id
            ) then 1
            else 0
        end as job_picodollars

    from job_shares_floored

),

item_shares_floored as (

    -- The same rule once more: a job's share among its items in the window, by tokens.
    select
        dedicated_items.batch_item_id,
        dedicated_items.endpoint_window_id,
        dedicated_items.batch_id,
        dedicated_items.share_tokens,
        dedicated_items.prompt_tokens,
        job_shares.job_picodollars,
        coalesce(
            job_shares.job_picodollars * dedicated_items.share_tokens
            // nullif(job_shares.job_tokens, 0),
            0
        ) as floor_picodollars,
        coalesce(
            job_shares.job_picodollars * dedicated_items.share_tokens
            % nullif(job_shares.job_tokens, 0),
            0
        ) as remainder

    from dedicated_items
    inner join job_shares
        on dedicated_items.endpoint_window_id = job_shares.endpoint_window_id
        and dedicated_items.batch_id = job_shares.batch_id
    where dedicated_items.is_allocated

),

item_shares as (

    select
        batch_item_id,
        share_tokens,
        prompt_tokens,
        floor_picodollars
        + case
            when row_number() over (
                partition by endpoint_window_id, batch_id order by remainder desc, batch_item_id asc
            ) <= job_picodollars - sum(floor_picodollars) over (
                partition by endpoint_window_id, batch_id
            ) then 1
            else 0
        end as item_picodollars

    from item_shares_floored

),

item_costs as (

    -- An item's input cost is its prompt tokens' share of its cost, rounded down to the
    -- picodollar; the output cost is the rest, so the two add up to the cost exactly.
    select
        batch_item_id,
        cast(item_picodollars as decimal(38, 0)) * cast(0.000000000001 as decimal(13, 12))
            as cost_usd,
        cast(
            case
                when share_tokens > 0
                    then item_picodollars * least(prompt_tokens, share_tokens) // share_tokens
                else 0
            end as decimal(38, 0)
        ) * cast(0.000000000001 as decimal(13, 12)) as input_cost_usd

    from item_shares

),

allocated as (

    -- Dedicated items are priced only by their endpoint's window (no batch discount, no
    -- per-token list price to compare with); one outside every window is unpriced.
    select
        batch_items.* replace (
            case
                when dedicated_items.batch_item_id is null then batch_items.pricing_mode_applied
                when item_costs.batch_item_id is not null then 'dedicated'
            end as pricing_mode_applied,
            case
                when dedicated_items.batch_item_id is null then batch_items.is_priced
                else item_costs.batch_item_id is not null
            end as is_priced,
            case
                when dedicated_items.batch_item_id is null then batch_items.billed_model_price_id
            end as billed_model_price_id,
            case
                when dedicated_items.batch_item_id is null
                    then batch_items.realtime_model_price_id
            end as realtime_model_price_id,
            case
                when dedicated_items.batch_item_id is null
                    then batch_items.billed_usd_per_million_input_tokens
            end as billed_usd_per_million_input_tokens,
            case
                when dedicated_items.batch_item_id is null
                    then batch_items.billed_usd_per_million_output_tokens
            end as billed_usd_per_million_output_tokens,
            case
                when dedicated_items.batch_item_id is null
                    then batch_items.billed_usd_per_million_cached_input_tokens
            end as billed_usd_per_million_cached_input_tokens,
            -- Each branch cast on its own: a case over DECIMAL(38, 18) and the allocation's
            -- DECIMAL(38, 12) would round the per-token and per-second costs to 12 places.
            case
                when dedicated_items.batch_item_id is null
                    then cast(batch_items.input_cost_usd as decimal(38, 18))
                else cast(item_costs.input_cost_usd as decimal(38, 18))
            end as input_cost_usd,
            case
                when dedicated_items.batch_item_id is null
                    then cast(batch_items.output_cost_usd as decimal(38, 18))
                else cast(item_costs.cost_usd - item_costs.input_cost_usd as decimal(38, 18))
            end as output_cost_usd,
            case
                when dedicated_items.batch_item_id is null
                    then cast(batch_items.cost_usd as decimal(38, 18))
                else cast(item_costs.cost_usd as decimal(38, 18))
            end as cost_usd,
            -- A dedicated item costs its share of the window and no audio.
            case
                when dedicated_items.batch_item_id is null
                    then cast(batch_items.audio_cost_usd as decimal(38, 18))
                when item_costs.batch_item_id is not null then cast(0 as decimal(38, 18))
            end as audio_cost_usd,
            case
                when dedicated_items.batch_item_id is null then batch_items.realtime_cost_usd
            end as realtime_cost_usd,
            case
                when dedicated_items.batch_item_id is null then batch_items.savings_usd
            end as savings_usd
        ),
        dedicated_items.dedicated_endpoint,
        case when item_costs.batch_item_id is not null then dedicated_items.endpoint_window_id end
            as endpoint_window_id,
        case
            when item_costs.batch_item_id is not null
                then coalesce(window_busy.busy_milliseconds, 0)
        end as endpoint_window_busy_milliseconds

    from batch_items
    left join dedicated_items
        on batch_items.batch_item_id = dedicated_items.batch_item_id
    left join item_costs
        on batch_items.batch_item_id = item_costs.batch_item_id
    left join window_busy
        on dedicated_items.endpoint_window_id = window_busy.endpoint_window_id

)

select * from allocated
