with

plans as (
    select
        plan_id,
        plan_name,
        billing_period,
        fee,
        currency,
        included_requests_per_month,
        overage_price_per_1k_requests
    from {{ ref('plan_tiers') }}
),

final as (
    select
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(plan_name as {{ dbt.type_string() }}) as plan_name,
        cast(billing_period as {{ dbt.type_string() }}) as billing_period,
        cast(fee as {{ llmeter.type_price() }}) as fee,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(included_requests_per_month as {{ dbt.type_bigint() }}) as included_requests_per_month,
        cast(overage_price_per_1k_requests as {{ llmeter.type_price() }})
            as overage_price_per_1k_requests,
        included_requests_per_month is null as has_unlimited_requests
    from plans
)

select * from final
