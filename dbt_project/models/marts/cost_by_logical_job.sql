with

jobs as (

    select * from {{ ref('cost_by_job') }}

),

items as (

    select * from {{ ref('fct_batch_items') }}

),

retried_roots as (

    select jobs.root_batch_id
    from jobs
    group by jobs.root_batch_id
    having count(*) > 1

),

attempt_items as (

    -- Only roots with retries need their items matched across attempts; a root that is its
    -- only job counts its own items (below), so reading this view never scans every item.
    select
        jobs.root_batch_id,
        items.custom_id,
        items.item_status,
        row_number() over (
            partition by jobs.root_batch_id, items.custom_id
            order by
                items.item_status = 'succeeded' desc,
                jobs.retry_depth desc,
                jobs.created_at desc,
                jobs.batch_id desc
        ) as attempt_rank

    from items
    inner join jobs
        on items.batch_id = jobs.batch_id
    where items.batch_id in (
        select retried_jobs.batch_id
        from jobs as retried_jobs
        inner join retried_roots
            on retried_jobs.root_batch_id = retried_roots.root_batch_id
    )

),

logical_items as (

    -- One row per root and custom_id: succeeded if any attempt succeeded, otherwise what
    -- became of it in its latest attempt.
    select
        root_batch_id,
        custom_id,
        item_status

    from attempt_items
    where attempt_rank = 1

),

logical_item_counts as (

    select
        root_batch_id,
        count(*) as items_total,
        count(*) filter (where item_status = 'succeeded') as items_succeeded,
        count(*) filter (where item_status = 'failed') as items_failed,
        count(*) filter (where item_status = 'not_processed') as items_not_processed,
        count(*) filter (where item_status = 'pending') as items_pending

    from logical_items
    group by root_batch_id

    union all

    -- A root without retries: its items are unique per custom_id already.
    select
        jobs.root_batch_id,
        jobs.items_total,
        jobs.items_succeeded,
        jobs.items_failed,
        jobs.items_not_processed,
        jobs.items_pending

    from jobs
    where jobs.root_batch_id not in (select retried_roots.root_batch_id from retried_roots)

),

jobs_ranked as (

    select
        *,
        row_number() over (
            partition by root_batch_id
            order by retry_depth desc, created_at desc, batch_id desc
        ) as latest_rank

    from jobs

),

attempt_totals as (

    -- Every attempt is billed, so tokens and cost add up over the root and its retries.
    select
        root_batch_id,
        count(*) as jobs,
        max(retry_depth) as max_retry_depth,
        bool_and(is_terminal) as is_terminal,
        max(completed_at) as last_completed_at,
        cast(sum(items_total) as bigint) as items_attempted,
        cast(sum(prompt_tokens) as bigint) as prompt_tokens,
        cast(sum(cached_prompt_tokens) as bigint) as cached_prompt_tokens,
        cast(sum(completion_tokens) as bigint) as completion_tokens,
        cast(sum(total_tokens) as bigint) as total_tokens,
        sum(audio_seconds) as audio_seconds,
        sum(input_cost_usd) as input_cost_usd,
        sum(output_cost_usd) as output_cost_usd,
        sum(audio_cost_usd) as audio_cost_usd,
        sum(cost_usd) as cost_usd,
        -- Never retried: the retries cost nothing (0); null keeps its meaning, unpriced.
        case
            when max(retry_depth) = 0 then cast(0 as decimal(38, 18))
            else sum(cost_usd) filter (where retry_depth > 0)
        end as retry_cost_usd,
        sum(realtime_cost_usd) as realtime_cost_usd,
        sum(savings_usd) as savings_usd,
        cast(sum(unpriced_items) as bigint) as unpriced_items

    from jobs
    group by root_batch_id

),

latest_attempts as (

    select
        root_batch_id,
        batch_id as latest_batch_id,
        status as latest_status

    from jobs_ranked
    where latest_rank = 1

),

roots as (

    select * from jobs
    where batch_id = root_batch_id

),

final as (

    select
        attempt_totals.root_batch_id,
        roots.provider,
        roots.model,
        roots.status as root_status,
        latest_attempts.latest_batch_id,
        latest_attempts.latest_status,
        attempt_totals.is_terminal,
        roots.created_at,
        attempt_totals.last_completed_at,
        attempt_totals.jobs,
        attempt_totals.max_retry_depth,
        coalesce(logical_item_counts.items_total, 0) as items_total,
        coalesce(logical_item_counts.items_succeeded, 0) as items_succeeded,
        coalesce(logical_item_counts.items_failed, 0) as items_failed,
        coalesce(logical_item_counts.items_not_processed, 0) as items_not_processed,
        coalesce(logical_item_counts.items_pending, 0) as items_pending,
        attempt_totals.items_attempted,
        attempt_totals.prompt_tokens,
        attempt_totals.cached_prompt_tokens,
        attempt_totals.completion_tokens,
        attempt_totals.total_tokens,
        attempt_totals.audio_seconds,
        attempt_totals.input_cost_usd,
        attempt_totals.output_cost_usd,
        attempt_totals.audio_cost_usd,
        attempt_totals.cost_usd,
        attempt_totals.retry_cost_usd,
        attempt_totals.realtime_cost_usd,
        attempt_totals.savings_usd,
        attempt_totals.unpriced_items,
        coalesce(logical_item_counts.items_failed, 0) > 0
        or coalesce(logical_item_counts.items_not_processed, 0) > 0 as has_failures,
        coalesce(roots.tags, cast(map() as map(varchar, varchar))) as tags  -- noqa: LT01

    from attempt_totals
    left join logical_item_counts
        on attempt_totals.root_batch_id = logical_item_counts.root_batch_id
    left join latest_attempts
        on attempt_totals.root_batch_id = latest_attempts.root_batch_id
    left join roots
        on attempt_totals.root_batch_id = roots.root_batch_id

)

select * from final
