{#
    The days whose usage fct_cost_anomalies compares to explain each anomaly, with weights that
    turn each period into one typical day: one row per anomaly, period (`observed` or
    `baseline`) and day.

    - Cost spike or drop: the anomaly's first day (weight 1) against the days of its baseline
      window, each weighted by (judged day's weekday factor) / (its own weekday factor *
      number of baseline days), so the weighted sum is the weekday-adjusted mean day.
    - Turned unprofitable: each day of the month (weight 1 / days) against each day of the
      previous month (weight 1 / days), days before the first cost day excluded.
#}

{%- set baseline_window = var('anomaly_baseline_days') %}

with episodes as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        baseline_days
    from {{ ref('int_cost_anomaly_episodes') }}
),

unprofitable_months as (
    select
        customer_id,
        month_start_date,
        month_end_date,
        previous_month_start_date
    from {{ ref('int_customer_months_turned_unprofitable') }}
),

subject_days as (
    select
        subject_type,
        subject_id,
        usage_date
    from {{ ref('int_cost_subject_days') }}
),

weekday_factors as (
    select
        judged_date,
        iso_weekday,
        weekday_factor
    from {{ ref('int_cost_weekday_factors') }}
),

complete_days as (
    select usage_date
    from {{ ref('int_complete_days') }}
),

observed_days as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        'observed' as comparison_period,
        anomaly_date as usage_date,
        cast(1 as double) as day_weight
    from episodes
),

baseline_window_days as (
    select
        episodes.subject_type,
        episodes.subject_id,
        episodes.anomaly_type,
        episodes.anomaly_date,
        'baseline' as comparison_period,
        subject_days.usage_date,
        judged_factors.weekday_factor
        / (baseline_factors.weekday_factor * episodes.baseline_days) as day_weight
    from episodes
    inner join subject_days
        on
            episodes.subject_type = subject_days.subject_type
            and episodes.subject_id = subject_days.subject_id
            and subject_days.usage_date >= {{ dbt.dateadd('day', -baseline_window, 'episodes.anomaly_date') }}
            and episodes.anomaly_date > subject_days.usage_date
    inner join weekday_factors as judged_factors
        on
            episodes.anomaly_date = judged_factors.judged_date
            and judged_factors.iso_weekday = {{ llmeter.iso_day_of_week('episodes.anomaly_date') }}
    inner join weekday_factors as baseline_factors
        on
            episodes.anomaly_date = baseline_factors.judged_date
            and baseline_factors.iso_weekday = {{ llmeter.iso_day_of_week('subject_days.usage_date') }}
),

-- one row per unprofitable month and each complete day of it or of the month before
month_days as (
    select
        unprofitable_months.customer_id,
        unprofitable_months.month_start_date,
        complete_days.usage_date,
        case
            when complete_days.usage_date >= unprofitable_months.month_start_date then 'observed'
            else 'baseline'
        end as comparison_period
    from unprofitable_months
    inner join complete_days
        on
            unprofitable_months.previous_month_start_date <= complete_days.usage_date
            and unprofitable_months.month_end_date >= complete_days.usage_date
),

month_period_days as (
    select
        customer_id,
        month_start_date,
        comparison_period,
        count(*) as period_days
    from month_days
    group by customer_id, month_start_date, comparison_period
),

unprofitable_days as (
    select
        'customer' as subject_type,
        month_days.customer_id as subject_id,
        'turned_unprofitable' as anomaly_type,
        month_days.month_start_date as anomaly_date,
        month_days.comparison_period,
        month_days.usage_date,
        cast(1 as double) / month_period_days.period_days as day_weight
    from month_days
    inner join month_period_days
        on
            month_days.customer_id = month_period_days.customer_id
            and month_days.month_start_date = month_period_days.month_start_date
            and month_days.comparison_period = month_period_days.comparison_period
),

final as (
    select * from observed_days
    union all
    select * from baseline_window_days
    union all
    select * from unprofitable_days
)

select * from final
