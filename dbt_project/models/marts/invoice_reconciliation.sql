{#- The allowed difference is the larger of the two tolerances (dbt vars, decimal text, so no
    float): invoice_tolerance_usd absolute, invoice_tolerance_percent of the computed cost. -#}
{%- set usd_text = quoted_var('invoice_tolerance_usd') -%}
{%- set percent_text = quoted_var('invoice_tolerance_percent') -%}
{%- set tolerance_usd = "cast(" ~ usd_text ~ " as decimal(18, 6))" -%}
{%- set tolerance_percent = "cast(" ~ percent_text ~ " as decimal(12, 6))" -%}

with

invoice_lines as (

    select * from {{ ref('stg_batchledger__invoice_lines') }}

),

months as (

    select * from {{ ref('cost_by_month') }}

),

invoiced_months as (

    select
        invoice_lines.invoice_month,
        count(*) as invoice_lines,
        sum(invoice_lines.amount_usd) as invoiced_usd,
        bool_or(invoice_lines.model is not null) as has_model_lines

    from invoice_lines
    group by invoice_lines.invoice_month

),

invoiced_models as (

    select
        invoice_lines.invoice_month,
        invoice_lines.model,
        count(*) as invoice_lines,
        sum(invoice_lines.amount_usd) as invoiced_usd

    from invoice_lines
    where invoice_lines.model is not null
    group by invoice_lines.invoice_month, invoice_lines.model

),

computed_months as (

    select
        months.usage_month,
        coalesce(sum(months.cost_usd), 0) as computed_billed_usd,
        sum(months.unpriced_items) as unpriced_items

    from months
    group by months.usage_month

),

computed_models as (

    select
        months.usage_month,
        months.model,
        coalesce(sum(months.cost_usd), 0) as computed_billed_usd,
        sum(months.unpriced_items) as unpriced_items

    from months
    group by months.usage_month, months.model

),

month_rows as (

    -- Every invoiced month against everything billed that month.
    select
        invoiced_months.invoice_month,
        'month' as reconciliation_level,
        cast(null as varchar) as model,
        invoiced_months.invoice_lines,
        coalesce(computed_months.computed_billed_usd, 0) as computed_billed_usd,
        coalesce(computed_months.unpriced_items, 0) as unpriced_items,
        invoiced_months.invoiced_usd

    from invoiced_months
    left join computed_months
        on invoiced_months.invoice_month = computed_months.usage_month

),

model_months as (

    select invoiced_months.invoice_month
    from invoiced_months
    where invoiced_months.has_model_lines

),

model_rows as (

    -- In a month whose invoice names models: every model either side knows, so a model
    -- billed but not invoiced (or invoiced but never billed here) shows against 0.
    select
        coalesce(invoiced_models.invoice_month, computed_models.usage_month) as invoice_month,
        'model' as reconciliation_level,
        coalesce(invoiced_models.model, computed_models.model) as model,
        coalesce(invoiced_models.invoice_lines, 0) as invoice_lines,
        coalesce(computed_models.computed_billed_usd, 0) as computed_billed_usd,
        coalesce(computed_models.unpriced_items, 0) as unpriced_items,
        coalesce(invoiced_models.invoiced_usd, 0) as invoiced_usd

    from invoiced_models
    full outer join computed_models
        on invoiced_models.invoice_month = computed_models.usage_month
        and invoiced_models.model = computed_models.model
    inner join model_months
        on coalesce(invoiced_models.invoice_month, computed_models.usage_month)
        = model_months.invoice_month

),

rows_unioned as (

    select * from month_rows
    union all
    select * from model_rows

),

compared as (

    select
        invoice_month,
        reconciliation_level,
        model,
        cast(invoice_lines as bigint) as invoice_lines,
        cast(computed_billed_usd as decimal(38, 18)) as computed_billed_usd,
        cast(unpriced_items as bigint) as unpriced_items,
        cast(invoiced_usd as decimal(38, 18)) as invoiced_usd,
        cast(invoiced_usd - computed_billed_usd as decimal(38, 18)) as difference_usd,
        cast(
            greatest(
                {{ tolerance_usd }},
                cast(abs(computed_billed_usd) as decimal(38, 12))
                * {{ tolerance_percent }}
                * cast(0.01 as decimal(3, 2))
            )
            as decimal(38, 18)
        ) as tolerance_usd

    from rows_unioned

),

final as (

    select
        invoice_month,
        reconciliation_level,
        model,
        invoice_lines,
        computed_billed_usd,
        unpriced_items,
        invoiced_usd,
        difference_usd,
        -- DECIMAL(18, 6) holds percents below 1e12: a larger share (a big invoice line
        -- against a test's worth of usage) is null, never a failed build.
        case
            when abs(cast(difference_usd as double)) < cast(computed_billed_usd as double) * 1e9
                then {{ percent_of('difference_usd', 'computed_billed_usd') }}
        end as difference_percent,
        tolerance_usd,
        abs(difference_usd) <= tolerance_usd as within_tolerance

    from compared

)

select * from final
