{#
    One row per subscription per day it is active, up to the last day of the as-of date's month
    (the days from the as-of date on feed only the month-end projection), with the part of the
    fee recognised that day.

    A fee covers one billing period: a calendar month for monthly plans, a subscription year
    counted from the start date for annual plans (365 or 366 days; a subscription that starts
    on 29 February renews on 28 February). Each period's fee is split over all days of the
    period with split_exact, weight 1 per day, so that a whole period sums to the fee exactly.
    The pico-dollars left over by the integer split go one each to the first days of the
    period. A subscription that starts or ends inside a period gets only the parts of its
    active days, which prorates upgrades, downgrades and cancellations by calendar day.

    Fees in another currency are converted day by day with the average rate of the day's
    month from the fx_rates seed. The product is rounded to 18 decimal places. That loses
    nothing while the rate has at most 6 decimal places, because a daily part has at most 12
    (a fee with more than 12 decimal places keeps its extra digits on the period's first day).

    Period numbers go up to 1,199, which covers subscriptions of up to 100 years.
#}

{%- set as_of = llmeter.as_of_date() -%}
{%- set last_revenue_date = dbt.last_day(as_of, 'month') -%}

with

subscriptions as (
    select
        subscription_id,
        customer_id,
        plan_id,
        billing_period,
        currency,
        fee_per_period,
        start_date,
        end_date
    from {{ ref('int_subscriptions_priced') }}
),

fx_rates as (
    select
        currency,
        month_start_date,
        usd_per_unit
    from {{ ref('fx_rates') }}
),

period_numbers as (
    select cast(series.generated_number - 1 as integer) as period_number
    from ({{ dbt.generate_series(1200) }}) as series
),

day_offsets as (
    select cast(series.generated_number - 1 as integer) as day_offset
    from ({{ dbt.generate_series(366) }}) as series
),

bounded as (
    select
        subscription_id,
        customer_id,
        plan_id,
        billing_period,
        currency,
        fee_per_period,
        start_date,
        case
            when end_date is null or end_date > {{ last_revenue_date }} then {{ last_revenue_date }}
            else end_date
        end as last_active_date
    from subscriptions
),

-- the billing periods that overlap the active days. The datediff bound may count one
-- period too many, and the where clause of the next CTE removes it.
period_counts as (
    select
        bounded.*,
        case
            when bounded.billing_period = 'annual'
                then {{ dbt.datediff('bounded.start_date', 'bounded.last_active_date', 'year') }} + 1
            else {{ dbt.datediff('bounded.start_date', 'bounded.last_active_date', 'month') }} + 1
        end as period_count
    from bounded
    where bounded.start_date <= bounded.last_active_date
),

periods as (
    select
        period_counts.subscription_id,
        period_counts.customer_id,
        period_counts.plan_id,
        period_counts.currency,
        period_counts.fee_per_period,
        period_counts.start_date,
        period_counts.last_active_date,
        case
            when period_counts.billing_period = 'annual'
                then cast({{ dbt.dateadd('year', 'period_numbers.period_number', 'period_counts.start_date') }} as date)
            else cast({{ dbt.dateadd('month', 'period_numbers.period_number', dbt.date_trunc('month', 'period_counts.start_date')) }} as date)
        end as period_start_date,
        case
            when period_counts.billing_period = 'annual'
                then cast({{ dbt.dateadd('year', 'period_numbers.period_number + 1', 'period_counts.start_date') }} as date)
            else cast({{ dbt.dateadd('month', 'period_numbers.period_number + 1', dbt.date_trunc('month', 'period_counts.start_date')) }} as date)
        end as next_period_start_date
    from period_counts
    inner join period_numbers
        on period_counts.period_count > period_numbers.period_number
),

periods_sized as (
    select
        periods.*,
        {{ dbt.datediff('periods.period_start_date', 'periods.next_period_start_date', 'day') }} as period_days
    from periods
    where periods.period_start_date <= periods.last_active_date
),

-- every day of every period, active or not, so that the split divides by the period's length
period_days as (
    select
        periods_sized.subscription_id,
        periods_sized.customer_id,
        periods_sized.plan_id,
        periods_sized.currency,
        periods_sized.fee_per_period,
        periods_sized.start_date,
        periods_sized.last_active_date,
        periods_sized.period_start_date,
        periods_sized.period_days,
        cast({{ dbt.dateadd('day', 'day_offsets.day_offset', 'periods_sized.period_start_date') }} as date) as fee_date,
        1 as day_weight
    from periods_sized
    inner join day_offsets
        on periods_sized.period_days > day_offsets.day_offset
),

split as (
    {{ llmeter.split_exact(
        'period_days',
        'fee_per_period',
        'day_weight',
        ['subscription_id', 'period_start_date'],
        ['fee_date'],
        'fee_amount'
    ) }}
),

active_days as (
    select
        subscription_id,
        customer_id,
        plan_id,
        currency,
        period_start_date,
        period_days,
        fee_date,
        cast({{ dbt.date_trunc('month', 'fee_date') }} as date) as month_start_date,
        fee_amount
    from split
    where fee_date between start_date and last_active_date
),

converted as (
    select
        active_days.subscription_id,
        active_days.customer_id,
        active_days.plan_id,
        active_days.fee_date,
        active_days.month_start_date,
        active_days.fee_date < {{ as_of }} as is_before_as_of_date,
        active_days.period_start_date,
        active_days.period_days,
        active_days.currency,
        active_days.fee_amount,
        case
            when active_days.currency = 'USD' then cast(1 as decimal(18, 10))
            else fx_rates.usd_per_unit
        end as usd_per_unit
    from active_days
    left join fx_rates
        on
            active_days.currency = fx_rates.currency
            and active_days.month_start_date = fx_rates.month_start_date
),

final as (
    select
        subscription_id,
        customer_id,
        plan_id,
        fee_date,
        month_start_date,
        is_before_as_of_date,
        period_start_date,
        period_days,
        currency,
        fee_amount,
        usd_per_unit,
        cast(fee_amount * usd_per_unit as {{ llmeter.type_usd() }}) as fee_usd
    from converted
)

select * from final
