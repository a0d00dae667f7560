{#
    One row per customer and complete calendar month (every day before the as-of date) whose
    gross margin is negative by at least `anomaly_min_impact_usd`, while the previous month
    was active (revenue or cost above 0) with a gross margin of zero or more. Both months must
    lie wholly on or after the first day with cost data: a month the cost data only partly
    covers compares a whole month's fees with part of its cost. A customer whose first month
    is already negative, or whose previous month had neither revenue nor cost (a free-plan
    customer who starts calling), is not listed, and neither is a month still running.
#}

with complete_months as (
    select
        customer_id,
        month_start_date,
        revenue_usd,
        allocated_cost_usd,
        gross_margin_usd
    from {{ ref('fct_customer_monthly_margins') }}
    where
        not is_unattributed
        and is_complete_month
),

cost_data_start as (
    select min(usage_date) as first_usage_date
    from {{ ref('int_complete_days') }}
),

final as (
    select
        this_month.customer_id,
        this_month.month_start_date,
        cast(
            {{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'this_month.month_start_date')) }}
            as date
        ) as month_end_date,
        this_month.revenue_usd,
        this_month.allocated_cost_usd,
        this_month.gross_margin_usd,
        previous_month.month_start_date as previous_month_start_date,
        previous_month.revenue_usd as previous_revenue_usd,
        previous_month.allocated_cost_usd as previous_allocated_cost_usd,
        previous_month.gross_margin_usd as previous_gross_margin_usd
    from complete_months as this_month
    inner join complete_months as previous_month
        on
            this_month.customer_id = previous_month.customer_id
            and this_month.month_start_date
            = cast({{ dbt.dateadd('month', 1, 'previous_month.month_start_date') }} as date)
    cross join cost_data_start
    where
        this_month.gross_margin_usd <= -{{ var('anomaly_min_impact_usd') }}
        and previous_month.gross_margin_usd >= 0
        and (previous_month.revenue_usd > 0 or previous_month.allocated_cost_usd > 0)
        and previous_month.month_start_date >= cost_data_start.first_usage_date
)

select * from final
