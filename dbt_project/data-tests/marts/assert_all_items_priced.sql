-- Warns, one row per model, when items have no price row in force at their usage time.
-- Such items are counted with a null cost, never priced at zero. `price_file` says where the
-- missing price goes: a row in prices/model_prices.csv, or, for a dedicated endpoint (billed
-- by the hour, never per token), the billing window in prices/dedicated_endpoints.csv that
-- covers the items. The failure rows are also stored in audit.assert_all_items_priced for the
-- ingest summary.
{{ config(severity='warn', store_failures=true, schema='audit') }}

with

items as (

    select * from {{ ref('fct_batch_items') }}

)

select
    items.provider,
    items.model,
    case
        when items.dedicated_endpoint is not null then 'prices/dedicated_endpoints.csv'
        else 'prices/model_prices.csv'
    end as price_file,
    count(*) as unpriced_items,
    count(distinct items.batch_id) as jobs,
    cast(sum(items.total_tokens) as bigint) as total_tokens,
    min(items.used_at) as first_used_at,
    max(items.used_at) as last_used_at

from items
-- Items left unpriced because their usage is flagged are listed in data_quality_issues.
where not items.is_priced and items.usage_issue is null
group by all
order by items.provider, items.model
