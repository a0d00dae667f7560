{#
    One row per customer per calendar month with a row in fct_customer_daily_margins, plus one
    row per month for the (unattributed) cost (is_unattributed = true, no revenue): revenue,
    cost and gross margin of the month's days before the as-of date, and for the as-of date's
    month a month-end projection.

    Ratios divide money, and dividing DECIMALs in DuckDB returns DOUBLE, so each ratio is an
    integer division of pico-dollars: percentages truncated toward zero to 6 decimal places,
    cost per 1,000 requests and projected cost truncated toward zero to the pico-dollar.

    Projection of an incomplete month: cost so far x days in month / days elapsed; revenue is
    the fees scheduled for the whole month by the subscriptions known on the as-of date plus
    the overage so far. Overage is not extrapolated, so the projection leans toward a lower
    margin for customers in overage. A complete month's projections equal its actual values.
#}

{%- set as_of = llmeter.as_of_date() -%}
{%- set big = llmeter.type_big_integer() -%}

with

daily as (
    select
        customer_id,
        margin_date,
        month_start_date,
        plan_id,
        fee_revenue_usd,
        overage_revenue_usd,
        revenue_usd,
        requests,
        overage_requests,
        unpriced_calls,
        list_cost_usd,
        allocated_cost_usd,
        cost_basis
    from {{ ref('fct_customer_daily_margins') }}
),

unattributed_costs as (
    select
        usage_date,
        requests,
        unpriced_calls,
        list_cost_usd,
        allocated_cost_usd,
        cost_basis
    from {{ ref('fct_customer_daily_costs') }}
    where
        is_unattributed
        and usage_date < {{ as_of }}
),

-- the first UTC day of any cost row, the unattributed remainder's included
cost_coverage as (
    select min(usage_date) as first_cost_date
    from {{ ref('fct_customer_daily_costs') }}
),

subscription_days as (
    select
        customer_id,
        month_start_date,
        fee_usd
    from {{ ref('int_subscription_fees_daily') }}
),

-- the fees of every day of the month, those on or after the as-of date included
scheduled_fees as (
    select
        customer_id,
        month_start_date,
        sum(fee_usd) as scheduled_fee_usd
    from subscription_days
    group by
        customer_id,
        month_start_date
),

customer_months as (
    select
        customer_id,
        false as is_unattributed,
        month_start_date,
        sum(fee_revenue_usd) as fee_revenue_usd,
        sum(overage_revenue_usd) as overage_revenue_usd,
        sum(revenue_usd) as revenue_usd,
        sum(requests) as requests,
        sum(overage_requests) as overage_requests,
        coalesce(sum(unpriced_calls), 0) as unpriced_calls,
        sum(list_cost_usd) as list_cost_usd,
        sum(allocated_cost_usd) as allocated_cost_usd,
        sum(case when cost_basis is null then 0 else 1 end) as cost_days,
        sum(case when cost_basis = 'list_estimate' then 1 else 0 end) as estimated_cost_days
    from daily
    group by
        customer_id,
        month_start_date
),

unattributed_months as (
    select
        '(unattributed)' as customer_id,
        true as is_unattributed,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as month_start_date,
        0 as fee_revenue_usd,
        0 as overage_revenue_usd,
        0 as revenue_usd,
        sum(requests) as requests,
        0 as overage_requests,
        coalesce(sum(unpriced_calls), 0) as unpriced_calls,
        coalesce(sum(list_cost_usd), 0) as list_cost_usd,
        coalesce(sum(allocated_cost_usd), 0) as allocated_cost_usd,
        count(*) as cost_days,
        sum(case when cost_basis = 'billed' then 0 else 1 end) as estimated_cost_days
    from unattributed_costs
    group by cast({{ dbt.date_trunc('month', 'usage_date') }} as date)
),

all_months as (
    select * from customer_months
    union all
    select * from unattributed_months
),

calendar as (
    select
        all_months.*,
        cast({{ dbt.last_day('all_months.month_start_date', 'month') }} as date) as month_end_date,
        {{ dbt.datediff(
            'all_months.month_start_date',
            dbt.dateadd('month', 1, 'all_months.month_start_date'),
            'day'
        ) }} as days_in_month
    from all_months
),

elapsed as (
    select
        calendar.*,
        {{ as_of }} > calendar.month_end_date as is_complete_month,
        case
            when {{ as_of }} > calendar.month_end_date then calendar.days_in_month
            else {{ dbt.datediff('calendar.month_start_date', as_of, 'day') }}
        end as days_elapsed,
        case
            when {{ as_of }} > calendar.month_end_date then calendar.month_end_date
            else cast({{ dbt.dateadd('day', -1, as_of) }} as date)
        end as last_elapsed_date
    from calendar
),

-- the plan of the subscription active on the month's last day before the as-of date
month_end_plans as (
    select
        daily.customer_id,
        daily.month_start_date,
        daily.plan_id
    from daily
    inner join elapsed
        on
            daily.customer_id = elapsed.customer_id
            and daily.month_start_date = elapsed.month_start_date
            and daily.margin_date = elapsed.last_elapsed_date
),

with_plans as (
    select
        elapsed.*,
        month_end_plans.plan_id as month_end_plan_id,
        coalesce(scheduled_fees.scheduled_fee_usd, 0) as scheduled_fee_usd,
        elapsed.revenue_usd - elapsed.allocated_cost_usd as gross_margin_usd
    from elapsed
    left join month_end_plans
        on
            elapsed.customer_id = month_end_plans.customer_id
            and elapsed.month_start_date = month_end_plans.month_start_date
    left join scheduled_fees
        on
            elapsed.customer_id = scheduled_fees.customer_id
            and elapsed.month_start_date = scheduled_fees.month_start_date
            and not elapsed.is_unattributed
),

-- integer pico-dollars, so that ratios divide integers and never pass through DOUBLE
picos as (
    select
        with_plans.*,
        cast(
            cast(with_plans.revenue_usd as decimal(38, 12)) * 1000000000000 as {{ big }}
        ) as revenue_pico,
        cast(
            cast(with_plans.gross_margin_usd as decimal(38, 12)) * 1000000000000 as {{ big }}
        ) as gross_margin_pico,
        cast(
            cast(with_plans.allocated_cost_usd as decimal(38, 12)) * 1000000000000 as {{ big }}
        ) as allocated_cost_pico
    from with_plans
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
        end as gross_margin_pct,
        case
            when picos.revenue_pico = 0 then null
            else
                cast(
                    case when picos.allocated_cost_pico < 0 then -1 else 1 end
                    * {{ llmeter.integer_divide('abs(picos.allocated_cost_pico) * 100000000', 'picos.revenue_pico') }}
                    as decimal(38, 0)
                ) * 0.000001
        end as cost_to_revenue_pct,
        case
            when picos.requests = 0 then null
            else
                cast(
                    case when picos.allocated_cost_pico < 0 then -1 else 1 end
                    * {{ llmeter.integer_divide('abs(picos.allocated_cost_pico) * 1000', 'picos.requests') }}
                    as decimal(38, 0)
                ) * 0.000000000001
        end as allocated_cost_per_1k_requests_usd,
        case
            when picos.is_complete_month then picos.allocated_cost_usd
            else
                cast(
                    case when picos.allocated_cost_pico < 0 then -1 else 1 end
                    * {{ llmeter.integer_divide('abs(picos.allocated_cost_pico) * picos.days_in_month', 'picos.days_elapsed') }}
                    as decimal(38, 0)
                ) * 0.000000000001
        end as projected_allocated_cost_usd,
        case
            when picos.is_complete_month or picos.is_unattributed then picos.revenue_usd
            else picos.scheduled_fee_usd + picos.overage_revenue_usd
        end as projected_revenue_usd
    from picos
),

-- whether the month reaches the first day of cost data in the warehouse
covered as (
    select
        ratios.*,
        coalesce(
            {{ dbt.dateadd('day', 'ratios.days_in_month - 1', 'ratios.month_start_date') }}
            >= cost_coverage.first_cost_date,
            false
        ) as has_cost_data
    from ratios
    cross join cost_coverage
),

final as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(is_unattributed as {{ dbt.type_boolean() }}) as is_unattributed,
        cast(month_start_date as date) as month_start_date,
        cast(days_in_month as integer) as days_in_month,
        cast(days_elapsed as integer) as days_elapsed,
        cast(is_complete_month as {{ dbt.type_boolean() }}) as is_complete_month,
        cast(month_end_plan_id as {{ dbt.type_string() }}) as month_end_plan_id,
        cast(fee_revenue_usd as {{ llmeter.type_usd() }}) as fee_revenue_usd,
        cast(overage_revenue_usd as {{ llmeter.type_usd() }}) as overage_revenue_usd,
        cast(revenue_usd as {{ llmeter.type_usd() }}) as revenue_usd,
        cast(requests as {{ dbt.type_bigint() }}) as requests,
        cast(overage_requests as {{ dbt.type_bigint() }}) as overage_requests,
        cast(unpriced_calls as {{ dbt.type_bigint() }}) as unpriced_calls,
        cast(list_cost_usd as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(allocated_cost_usd as {{ llmeter.type_usd() }}) as allocated_cost_usd,
        cast(
            case
                when cost_days = 0 then null
                when estimated_cost_days = 0 then 'billed'
                else 'list_estimate'
            end as {{ dbt.type_string() }}
        ) as cost_basis,
        cast(has_cost_data as {{ dbt.type_boolean() }}) as has_cost_data,
        cast(gross_margin_usd as {{ llmeter.type_usd() }}) as gross_margin_usd,
        cast(gross_margin_pct as decimal(38, 6)) as gross_margin_pct,
        cast(cost_to_revenue_pct as decimal(38, 6)) as cost_to_revenue_pct,
        cast(
            case when is_unattributed then null else gross_margin_usd < 0 end
            as {{ dbt.type_boolean() }}
        ) as is_unprofitable,
        cast(allocated_cost_per_1k_requests_usd as decimal(38, 12))
            as allocated_cost_per_1k_requests_usd,
        cast(projected_revenue_usd as {{ llmeter.type_usd() }}) as projected_revenue_usd,
        cast(projected_allocated_cost_usd as {{ llmeter.type_usd() }})
            as projected_allocated_cost_usd,
        cast(
            projected_revenue_usd - projected_allocated_cost_usd as {{ llmeter.type_usd() }}
        ) as projected_gross_margin_usd
    from covered
)

select * from final
