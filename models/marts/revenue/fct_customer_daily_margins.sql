{#
    One row per customer per day before the as-of date on which the customer had an active
    subscription or LLM cost: the revenue recognised that day, the cost, and the gross margin.

    Revenue is the day's part of the subscription fee (int_subscription_fees_daily) plus the
    overage charged that day (int_customer_overage_daily). Costs are the customer's rows of
    fct_customer_daily_costs summed over providers and models. The (unattributed) cost has no
    customer and no revenue, so it is left out here; fct_customer_monthly_margins carries it as
    one row per month.

    Calls of a model without a price add nothing to list_cost_usd, nor to allocated_cost_usd on
    list_estimate days, so unpriced_calls counts them: a day with unpriced calls understates
    its cost.

    Subscriptions usually start long before the first day of cost data the warehouse holds
    (a provider backfill reads 90 days), so `has_cost_data` marks the days on or after that
    first day: on earlier days the cost columns are zero because nothing was loaded, not
    because the customer cost nothing.

    The gross margin percentage divides integer pico-dollars, because dividing DECIMALs in
    DuckDB returns DOUBLE, and is truncated toward zero to 6 decimal places.
#}

{%- set as_of = llmeter.as_of_date() -%}
{%- set big = llmeter.type_big_integer() -%}

with

fees as (
    select
        customer_id,
        fee_date,
        subscription_id,
        plan_id,
        fee_usd
    from {{ ref('int_subscription_fees_daily') }}
    where is_before_as_of_date
),

overage as (
    select
        customer_id,
        usage_date,
        requests,
        overage_requests,
        overage_usd
    from {{ ref('int_customer_overage_daily') }}
),

costs as (
    select
        customer_id,
        usage_date,
        unpriced_calls,
        list_cost_usd,
        allocated_cost_usd,
        cost_basis
    from {{ ref('fct_customer_daily_costs') }}
    where
        not is_unattributed
        and usage_date < {{ as_of }}
),

-- the first UTC day of any cost row, the unattributed remainder's included
cost_coverage as (
    select min(usage_date) as first_cost_date
    from {{ ref('fct_customer_daily_costs') }}
),

-- 'billed' when every cost row of the day is billed, else 'list_estimate'
costs_daily as (
    select
        customer_id,
        usage_date,
        sum(unpriced_calls) as unpriced_calls,
        sum(list_cost_usd) as list_cost_usd,
        sum(allocated_cost_usd) as allocated_cost_usd,
        case
            when sum(case when cost_basis = 'billed' then 0 else 1 end) = 0 then 'billed'
            else 'list_estimate'
        end as cost_basis
    from costs
    group by
        customer_id,
        usage_date
),

customer_days as (
    select
        customer_id,
        fee_date as margin_date
    from fees
    union
    select
        customer_id,
        usage_date as margin_date
    from costs_daily
),

joined as (
    select
        customer_days.customer_id,
        customer_days.margin_date,
        fees.subscription_id,
        fees.plan_id,
        costs_daily.cost_basis,
        coalesce(fees.fee_usd, 0) as fee_revenue_usd,
        coalesce(overage.overage_usd, 0) as overage_revenue_usd,
        coalesce(overage.requests, 0) as requests,
        coalesce(overage.overage_requests, 0) as overage_requests,
        coalesce(costs_daily.unpriced_calls, 0) as unpriced_calls,
        coalesce(costs_daily.list_cost_usd, 0) as list_cost_usd,
        coalesce(costs_daily.allocated_cost_usd, 0) as allocated_cost_usd,
        coalesce(customer_days.margin_date >= cost_coverage.first_cost_date, false)
            as has_cost_data
    from customer_days
    cross join cost_coverage
    left join fees
        on
            customer_days.customer_id = fees.customer_id
            and customer_days.margin_date = fees.fee_date
    left join overage
        on
            customer_days.customer_id = overage.customer_id
            and customer_days.margin_date = overage.usage_date
    left join costs_daily
        on
            customer_days.customer_id = costs_daily.customer_id
            and customer_days.margin_date = costs_daily.usage_date
),

amounts as (
    select
        joined.*,
        joined.fee_revenue_usd + joined.overage_revenue_usd as revenue_usd,
        joined.fee_revenue_usd + joined.overage_revenue_usd - joined.allocated_cost_usd
            as gross_margin_usd
    from joined
),

-- integer pico-dollars, so that the percentage divides integers and never passes through DOUBLE
picos as (
    select
        amounts.*,
        cast(cast(amounts.revenue_usd as decimal(38, 12)) * 1000000000000 as {{ big }})
            as revenue_pico,
        cast(cast(amounts.gross_margin_usd as decimal(38, 12)) * 1000000000000 as {{ big }})
            as gross_margin_pico
    from amounts
),

ratios as (
    select
        picos.*,
        case
            when picos.revenue_pico = 0 then null
            else
                cast(
                    case when picos.gross_margin_pico < 0 then -1 else 1 end
                    * {{ llmeter.integer_divide('abs(picos.gross_margin_pico) * 100000000', 'picos.revenue_pico') }}
                    as decimal(38, 0)
                ) * 0.000001
        end as gross_margin_pct
    from picos
),

final as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(margin_date as date) as margin_date,
        cast({{ dbt.date_trunc('month', 'margin_date') }} as date) as month_start_date,
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(fee_revenue_usd as {{ llmeter.type_usd() }}) as fee_revenue_usd,
        cast(overage_revenue_usd as {{ llmeter.type_usd() }}) as overage_revenue_usd,
        cast(revenue_usd as {{ llmeter.type_usd() }}) as revenue_usd,
        cast(requests as {{ dbt.type_bigint() }}) as requests,
        cast(overage_requests as {{ dbt.type_bigint() }}) as overage_requests,
        cast(list_cost_usd as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(allocated_cost_usd as {{ llmeter.type_usd() }}) as allocated_cost_usd,
        cast(cost_basis as {{ dbt.type_string() }}) as cost_basis,
        cast(has_cost_data as {{ dbt.type_boolean() }}) as has_cost_data,
        cast(unpriced_calls as {{ dbt.type_bigint() }}) as unpriced_calls,
        cast(gross_margin_usd as {{ llmeter.type_usd() }}) as gross_margin_usd,
        cast(gross_margin_pct as decimal(38, 6)) as gross_margin_pct
    from ratios
)

select * from final
