{#- FOCUS 1.2 cost and usage rows (see focus_charges.yml and the README's
    "FOCUS export"). Column names are the spec's, quoted so that they read as the spec
    spells them (FinOps tools match them by name). -#}
-- noqa: disable=RF06
with

batch_day_charges as (

    select * from {{ ref('fct_batch_day_charges') }}

),

model_prices as (

    select * from {{ ref('stg_prices__model_prices') }}

),

dedicated_endpoint_costs as (

    select * from {{ ref('dedicated_endpoint_costs') }}

),

batches as (

    select * from {{ ref('stg_together__batches') }}

),

meters as (

    -- Token meters price per million tokens; the audio meter (transcription and translation
    -- batches) per second of audio, at the per-minute rate / 60.
    select
        meter_names.meter_key,
        meter_names.sku_meter,
        meter_names.meter_label,
        meter_names.consumed_unit,
        meter_names.pricing_unit,
        meter_names.price_basis
    from (
        values
        ('input', 'Input Tokens', 'Input tokens', 'Tokens', '1000000 Tokens', 'per 1M tokens'),
        (
            'cached_input', 'Cached Input Tokens', 'Cached input tokens', 'Tokens',
            '1000000 Tokens', 'per 1M tokens'
        ),
        ('output', 'Output Tokens', 'Output tokens', 'Tokens', '1000000 Tokens', 'per 1M tokens'),
        ('audio', 'Audio Seconds', 'Audio seconds', 'Seconds', 'Seconds', 'per second')
    ) as meter_names (
        meter_key, sku_meter, meter_label, consumed_unit, pricing_unit, price_basis
    )

),

priced_charges as (

    -- FOCUS costs are never null: only priced usage becomes a charge. Unpriced usage stays
    -- in fct_batch_day_charges (is_priced false), and the export lists it beside the file.
    select
        batch_day_charges.*,
        billed_prices.valid_from as billed_valid_from,
        billed_prices.usd_per_million_input_tokens as billed_usd_per_million_input_tokens,
        billed_prices.usd_per_million_output_tokens as billed_usd_per_million_output_tokens,
        billed_prices.usd_per_million_cached_input_tokens
            as billed_usd_per_million_cached_input_tokens,
        realtime_prices.usd_per_million_input_tokens as realtime_usd_per_million_input_tokens,
        realtime_prices.usd_per_million_output_tokens as realtime_usd_per_million_output_tokens,
        realtime_prices.usd_per_million_cached_input_tokens
            as realtime_usd_per_million_cached_input_tokens,
        billed_prices.usd_per_audio_minute as billed_usd_per_audio_minute,
        realtime_prices.usd_per_audio_minute as realtime_usd_per_audio_minute

    from batch_day_charges
    inner join model_prices as billed_prices
        on batch_day_charges.billed_model_price_id = billed_prices.model_price_id
    left join model_prices as realtime_prices
        on batch_day_charges.realtime_model_price_id = realtime_prices.model_price_id
    where batch_day_charges.is_priced

),

metered_charges as (

    -- One row per meter. A cached token bills at the cached rate where the price row has
    -- one, else at the input rate, as int_batch_items_priced prices it; the same for the
    -- real-time (serverless) row.
    select
        priced_charges.*,
        meters.meter_key,
        meters.sku_meter,
        meters.meter_label,
        meters.consumed_unit,
        meters.pricing_unit,
        meters.price_basis,
        case meters.meter_key
            when 'input' then priced_charges.input_tokens
            when 'cached_input' then priced_charges.cached_input_tokens
            when 'output' then priced_charges.output_tokens
        end as consumed_tokens,
        case meters.meter_key
            when 'audio' then priced_charges.audio_seconds
            when 'input' then cast(priced_charges.input_tokens as decimal(38, 6))
            when 'cached_input' then cast(priced_charges.cached_input_tokens as decimal(38, 6))
            else cast(priced_charges.output_tokens as decimal(38, 6))
        end as consumed_quantity,
        case meters.meter_key
            when 'input' then priced_charges.billed_usd_per_million_input_tokens
            when 'cached_input'
                then coalesce(
                    priced_charges.billed_usd_per_million_cached_input_tokens,
                    priced_charges.billed_usd_per_million_input_tokens
                )
            when 'output' then priced_charges.billed_usd_per_million_output_tokens
        end as contracted_usd_per_million_tokens,
        case meters.meter_key
            when 'input' then priced_charges.realtime_usd_per_million_input_tokens
            when 'cached_input'
                then coalesce(
                    priced_charges.realtime_usd_per_million_cached_input_tokens,
                    priced_charges.realtime_usd_per_million_input_tokens
                )
            when 'output' then priced_charges.realtime_usd_per_million_output_tokens
        end as realtime_usd_per_million_tokens

    from priced_charges
    cross join meters

),

used_meters as (

    -- A meter with nothing consumed is no charge. The list price is the serverless row's; a
    -- model with no serverless row lists at the price it was billed. An audio charge costs
    -- what its items cost (each item's seconds x rate / 60, truncated to 12 decimal places),
    -- priced per second at rate / 60 truncated the same way: unit price x seconds = cost
    -- exactly whenever the per-second price has at most 12 decimals (Whisper's does).
    select
        *,
        cast(case
            when meter_key = 'audio'
                then {{ usd_scaled('billed_usd_per_audio_minute', 1, 60) }}
            else contracted_usd_per_million_tokens
        end as decimal(38, 12)) as contracted_unit_price,
        cast(case
            when meter_key = 'audio'
                then {{ usd_scaled(
                    'coalesce(realtime_usd_per_audio_minute, billed_usd_per_audio_minute)', 1, 60
                ) }}
            else coalesce(realtime_usd_per_million_tokens, contracted_usd_per_million_tokens)
        end as decimal(38, 12)) as list_unit_price,
        case
            when meter_key = 'audio' then consumed_quantity
            else cast(
                cast(consumed_tokens as decimal(20, 0)) * cast(0.000001 as decimal(7, 6))
                as decimal(38, 6)
            )
        end as pricing_quantity,
        case
            when meter_key = 'audio' then audio_cost_usd
            else {{ usd_for_tokens('consumed_tokens', 'contracted_usd_per_million_tokens') }}
        end as billed_cost_usd,
        case
            when meter_key = 'audio' then coalesce(realtime_audio_cost_usd, audio_cost_usd)
            else {{ usd_for_tokens(
                'consumed_tokens',
                'coalesce(realtime_usd_per_million_tokens, contracted_usd_per_million_tokens)'
            ) }}
        end as list_cost_usd
    from metered_charges
    where consumed_quantity > 0

),

token_charges as (

    select
        used_meters.billed_cost_usd as "BilledCost",
        coalesce(
            nullif({{ quoted_var('focus_billing_account_id') }}, ''),
            used_meters.user_id,
            '(unknown)'
        ) as "BillingAccountId",
        cast(null as varchar) as "BillingAccountName",
        'USD' as "BillingCurrency",
        cast(used_meters.usage_month + interval 1 month as timestamp) as "BillingPeriodEnd",
        cast(used_meters.usage_month as timestamp) as "BillingPeriodStart",
        'Usage' as "ChargeCategory",
        cast(null as varchar) as "ChargeClass",
        used_meters.meter_label || ' of ' || used_meters.model || ' at the '
        || used_meters.pricing_mode_applied || ' price, ' || used_meters.price_basis
            as "ChargeDescription",
        'Usage-Based' as "ChargeFrequency",
        cast(used_meters.usage_date + interval 1 day as timestamp) as "ChargePeriodEnd",
        cast(used_meters.usage_date as timestamp) as "ChargePeriodStart",
        -- No commitment discount applies to batch usage. The columns are there, null, because
        -- FOCUS rules on ConsumedQuantity are conditioned on CommitmentDiscountStatus.
        cast(null as varchar) as "CommitmentDiscountId",
        cast(null as varchar) as "CommitmentDiscountStatus",
        cast(used_meters.consumed_quantity as decimal(38, 6)) as "ConsumedQuantity",
        used_meters.consumed_unit as "ConsumedUnit",
        used_meters.billed_cost_usd as "ContractedCost",
        used_meters.contracted_unit_price as "ContractedUnitPrice",
        used_meters.billed_cost_usd as "EffectiveCost",
        -- Batch usage reaches batchledger before any invoice does.
        cast(null as varchar) as "InvoiceId",
        'Together AI' as "InvoiceIssuerName",
        used_meters.list_cost_usd as "ListCost",
        used_meters.list_unit_price as "ListUnitPrice",
        'Standard' as "PricingCategory",
        -- Together prices in the currency it bills: the pricing-currency columns repeat the
        -- USD ones, for tools that read those.
        'USD' as "PricingCurrency",
        used_meters.contracted_unit_price as "PricingCurrencyContractedUnitPrice",
        used_meters.billed_cost_usd as "PricingCurrencyEffectiveCost",
        used_meters.list_unit_price as "PricingCurrencyListUnitPrice",
        used_meters.pricing_quantity as "PricingQuantity",
        used_meters.pricing_unit as "PricingUnit",
        'Together AI' as "ProviderName",
        'Together AI' as "PublisherName",
        used_meters.batch_id as "ResourceId",
        cast(null as varchar) as "ResourceName",
        'Batch Job' as "ResourceType",
        'AI and Machine Learning' as "ServiceCategory",
        'Batch Inference' as "ServiceName",
        'Generative AI' as "ServiceSubcategory",
        used_meters.provider || '|' || used_meters.model || '|'
        || used_meters.pricing_mode_applied || '|' || used_meters.meter_key as "SkuId",
        used_meters.sku_meter as "SkuMeter",
        -- No FOCUS-defined SKU price property applies to a token (null is allowed).
        cast(null as varchar) as "SkuPriceDetails",
        used_meters.provider || '|' || used_meters.model || '|'
        || used_meters.pricing_mode_applied || '|' || used_meters.meter_key || '|'
        || strftime(used_meters.billed_valid_from, '%Y-%m-%d') as "SkuPriceId",
        case
            when cardinality(used_meters.cohort) > 0
                then cast(to_json(used_meters.cohort) as varchar)
        end as "Tags",
        used_meters.model as "x_Model",
        used_meters.pricing_mode_applied as "x_PricingMode"

    from used_meters

),

dedicated_lines as (

    -- Dedicated endpoints (meter Dedicated Endpoint Hours): one charge per costed line of
    -- dedicated_endpoint_costs, a job's share of a billing window or the window's idle
    -- remainder. The line is the pricing unit (quantity 1, unit price its cost), so that
    -- unit price x quantity is the cost exactly; the hours it stands for are the consumed
    -- quantity, truncated to 6 decimals (the job's token share of the busy hours, or the
    -- window's hours with no job running).
    select
        dedicated_endpoint_costs.*,
        sum(dedicated_endpoint_costs.total_tokens) filter (
            where dedicated_endpoint_costs.line_kind = 'job'
        ) over (partition by dedicated_endpoint_costs.endpoint_window_id) as window_tokens,
        cast(dedicated_endpoint_costs.busy_seconds * 1000 as bigint) as busy_milliseconds

    from dedicated_endpoint_costs
    where dedicated_endpoint_costs.is_costed and dedicated_endpoint_costs.cost_usd > 0

),

dedicated_lines_timed as (

    select
        dedicated_lines.*,
        {{ exact_quotient(
            'cast(dedicated_lines.busy_milliseconds as hugeint)'
            ~ ' * dedicated_lines.total_tokens * 1000000',
            'cast(dedicated_lines.window_tokens as hugeint) * 3600000',
            6
        ) }} as job_hours,
        {{ exact_quotient(
            '(cast(dedicated_lines.billed_seconds as hugeint) * 1000'
            ~ ' - dedicated_lines.busy_milliseconds) * 1000000',
            'cast(3600000 as hugeint)',
            6
        ) }} as idle_hours

    from dedicated_lines

),

dedicated_charges as (

    select
        dedicated_lines.cost_usd as "BilledCost",
        coalesce(
            nullif({{ quoted_var('focus_billing_account_id') }}, ''),
            batches.user_id,
            (select min(account_batches.user_id) from batches as account_batches),
            '(unknown)'
        ) as "BillingAccountId",
        cast(null as varchar) as "BillingAccountName",
        'USD' as "BillingCurrency",
        cast(dedicated_lines.usage_month + interval 1 month as timestamp) as "BillingPeriodEnd",
        cast(dedicated_lines.usage_month as timestamp) as "BillingPeriodStart",
        'Usage' as "ChargeCategory",
        cast(null as varchar) as "ChargeClass",
        'Dedicated endpoint hours of ' || dedicated_lines.endpoint || ' ('
        || coalesce(dedicated_lines.hardware, 'hardware not given') || ' at '
        || cast(dedicated_lines.usd_per_hour as varchar) || ' USD per hour): '
        || coalesce(
            'the share of batch job ' || dedicated_lines.batch_id,
            'the idle remainder (no batch job running)'
        ) as "ChargeDescription",
        'Usage-Based' as "ChargeFrequency",
        cast(dedicated_lines.billed_to as timestamp) as "ChargePeriodEnd",
        cast(dedicated_lines.billed_from as timestamp) as "ChargePeriodStart",
        cast(null as varchar) as "CommitmentDiscountId",
        cast(null as varchar) as "CommitmentDiscountStatus",
        cast(
            coalesce(
                case when dedicated_lines.line_kind = 'job' then dedicated_lines.job_hours end,
                dedicated_lines.idle_hours
            )
            as decimal(38, 6)
        ) as "ConsumedQuantity",
        'Hours' as "ConsumedUnit",
        dedicated_lines.cost_usd as "ContractedCost",
        dedicated_lines.cost_usd as "ContractedUnitPrice",
        dedicated_lines.cost_usd as "EffectiveCost",
        cast(null as varchar) as "InvoiceId",
        'Together AI' as "InvoiceIssuerName",
        dedicated_lines.cost_usd as "ListCost",
        dedicated_lines.cost_usd as "ListUnitPrice",
        'Standard' as "PricingCategory",
        'USD' as "PricingCurrency",
        dedicated_lines.cost_usd as "PricingCurrencyContractedUnitPrice",
        dedicated_lines.cost_usd as "PricingCurrencyEffectiveCost",
        dedicated_lines.cost_usd as "PricingCurrencyListUnitPrice",
        cast(1 as decimal(38, 6)) as "PricingQuantity",
        'Allocations' as "PricingUnit",
        'Together AI' as "ProviderName",
        'Together AI' as "PublisherName",
        coalesce(dedicated_lines.batch_id, dedicated_lines.endpoint) as "ResourceId",
        cast(null as varchar) as "ResourceName",
        case
            when dedicated_lines.line_kind = 'job' then 'Batch Job' else 'Dedicated Endpoint'
        end as "ResourceType",
        'AI and Machine Learning' as "ServiceCategory",
        'Batch Inference' as "ServiceName",
        'Generative AI' as "ServiceSubcategory",
        dedicated_lines.provider || '|' || dedicated_lines.endpoint || '|dedicated|hours'
            as "SkuId",
        'Dedicated Endpoint Hours' as "SkuMeter",
        cast(null as varchar) as "SkuPriceDetails",
        dedicated_lines.provider || '|' || dedicated_lines.endpoint || '|dedicated|hours|'
        || strftime(dedicated_lines.billed_from, '%Y-%m-%d %H:%M:%S') as "SkuPriceId",
        cast(null as varchar) as "Tags",
        dedicated_lines.endpoint as "x_Model",
        'dedicated' as "x_PricingMode"

    from dedicated_lines_timed as dedicated_lines
    left join batches
        on dedicated_lines.batch_id = batches.batch_id

),

final as (

    select * from token_charges
    union all by name
    select * from dedicated_charges

)

select * from final
