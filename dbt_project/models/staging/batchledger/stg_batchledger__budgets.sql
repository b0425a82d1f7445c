with

source as (

    select * from {{ ref('budgets') }}

),

renamed as (

    select
        trim(month) as budget_month,
        cast(try_strptime(trim(month), '%Y-%m') as date) as usage_month,
        trim(scope_key) as scope_key,
        -- `all` covers the month's total; its scope_value may be left empty.
        case
            when trim(scope_key) = 'all' then coalesce(nullif(trim(scope_value), ''), 'all')
            else trim(scope_value)
        end as scope_value,
        budget_usd

    from source

)

select * from renamed
