{#
    One row per subscription with its plan's terms and the fee it charges per billing period.
    A negotiated fee replaces the plan fee; a discount takes a percentage off the plan fee (the
    loader rejects a row that sets both). The discount is applied by multiplying with 0.01,
    because dividing DECIMALs in DuckDB returns DOUBLE.
#}

with

subscriptions as (
    select
        subscription_id,
        customer_id,
        plan_id,
        start_date,
        end_date,
        negotiated_fee,
        discount_pct
    from {{ ref('stg_customers__subscriptions') }}
),

plans as (
    select
        plan_id,
        billing_period,
        fee,
        currency,
        included_requests_per_month,
        overage_price_per_1k_requests
    from {{ ref('plan_tiers') }}
),

-- inner join, so a subscription to an unknown plan earns no revenue until it is corrected.
-- The relationships test of stg_customers__subscriptions warns about it with its plan id.
joined as (
    select
        subscriptions.subscription_id,
        subscriptions.customer_id,
        subscriptions.plan_id,
        subscriptions.start_date,
        subscriptions.end_date,
        subscriptions.negotiated_fee,
        subscriptions.discount_pct,
        plans.billing_period,
        plans.fee as plan_fee,
        plans.currency,
        plans.included_requests_per_month,
        plans.overage_price_per_1k_requests
    from subscriptions
    inner join plans
        on subscriptions.plan_id = plans.plan_id
),

priced as (
    select
        subscription_id,
        customer_id,
        plan_id,
        start_date,
        end_date,
        billing_period,
        currency,
        plan_fee,
        negotiated_fee,
        discount_pct,
        case
            when negotiated_fee is not null then cast(negotiated_fee as {{ llmeter.type_usd() }})
            when discount_pct is not null
                then cast(plan_fee * (100 - discount_pct) * 0.01 as {{ llmeter.type_usd() }})
            else cast(plan_fee as {{ llmeter.type_usd() }})
        end as fee_per_period,
        included_requests_per_month,
        overage_price_per_1k_requests
    from joined
),

-- a subscription overlaps when an earlier-starting one of the same customer has not ended
-- by its start date
overlap_checked as (
    select
        priced.*,
        coalesce(
            max(coalesce(priced.end_date, cast('9999-12-31' as date))) over (
                partition by priced.customer_id
                order by priced.start_date, priced.subscription_id
                rows between unbounded preceding and 1 preceding
            ) >= priced.start_date,
            false
        ) as overlaps_earlier_subscription
    from priced
)

select * from overlap_checked
