{#
    One row per customer per day before the as-of date with LLM usage: the requests of the day,
    the month's running request count, and the overage charged that day.

    Overage is revenue of the days on which it occurs. Each day, the month's running request
    count is compared with the included requests of the plan active that day, and the
    requests of the day that lie beyond the allowance are charged at that plan's price per
    1,000 requests. On a day that changes plan, the running count is judged against the new
    plan's allowance. Requests come from fct_customer_daily_costs, which attributes model
    requests to customers; a day without an active subscription counts toward the month but
    charges no overage. Overage takes no discount, because discount_pct applies to the plan
    fee only.

    This model reads a mart, because fct_customer_daily_costs is the one place where calls are
    attributed to customers.
#}

{%- set as_of = llmeter.as_of_date() -%}

with

costs as (
    select
        customer_id,
        usage_date,
        requests
    from {{ ref('fct_customer_daily_costs') }}
    where
        not is_unattributed
        and usage_date < {{ as_of }}
),

subscription_days as (
    select
        subscription_id,
        customer_id,
        fee_date,
        currency,
        usd_per_unit
    from {{ ref('int_subscription_fees_daily') }}
),

subscriptions as (
    select
        subscription_id,
        plan_id,
        included_requests_per_month,
        overage_price_per_1k_requests
    from {{ ref('int_subscriptions_priced') }}
),

requests_daily as (
    select
        customer_id,
        usage_date,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as month_start_date,
        cast(sum(requests) as {{ dbt.type_bigint() }}) as requests
    from costs
    group by
        customer_id,
        usage_date
),

running as (
    select
        customer_id,
        usage_date,
        month_start_date,
        requests,
        sum(requests) over (
            partition by customer_id, month_start_date
            order by usage_date
            rows between unbounded preceding and current row
        ) as month_requests_to_date
    from requests_daily
),

with_plan as (
    select
        running.customer_id,
        running.usage_date,
        running.month_start_date,
        running.requests,
        running.month_requests_to_date,
        subscription_days.subscription_id,
        subscriptions.plan_id,
        subscriptions.included_requests_per_month,
        subscriptions.overage_price_per_1k_requests,
        subscription_days.currency,
        subscription_days.usd_per_unit
    from running
    left join subscription_days
        on
            running.customer_id = subscription_days.customer_id
            and running.usage_date = subscription_days.fee_date
    left join subscriptions
        on subscription_days.subscription_id = subscriptions.subscription_id
),

-- requests beyond the allowance by the end of the day, minus those beyond it by the end of
-- the day before. An unlimited plan (null allowance) and a day without a plan charge none.
overage as (
    select
        with_plan.*,
        case
            when with_plan.plan_id is null or with_plan.included_requests_per_month is null then 0
            else
                greatest(with_plan.month_requests_to_date - with_plan.included_requests_per_month, 0)
                - greatest(
                    with_plan.month_requests_to_date
                    - with_plan.requests
                    - with_plan.included_requests_per_month,
                    0
                )
        end as overage_requests
    from with_plan
),

priced as (
    select
        overage.*,
        cast(
            overage.overage_requests * coalesce(overage.overage_price_per_1k_requests, 0) * 0.001
            as {{ llmeter.type_usd() }}
        ) as overage_amount
    from overage
),

final as (
    select
        customer_id,
        usage_date,
        month_start_date,
        requests,
        cast(month_requests_to_date as {{ dbt.type_bigint() }}) as month_requests_to_date,
        subscription_id,
        plan_id,
        included_requests_per_month,
        cast(overage_requests as {{ dbt.type_bigint() }}) as overage_requests,
        overage_price_per_1k_requests,
        currency,
        usd_per_unit,
        overage_amount,
        cast(
            case when overage_amount = 0 then 0 else overage_amount * usd_per_unit end
            as {{ llmeter.type_usd() }}
        ) as overage_usd
    from priced
)

select * from final
