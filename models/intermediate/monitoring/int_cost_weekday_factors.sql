{#
    One row per judged day and ISO weekday: the weekday factor that fct_cost_anomalies divides
    each baseline day's cost by, so that a quiet Sunday is compared with other Sundays.

    The factor is taken from the whole company's cost, not each subject's, because one
    subject's four Sundays in a 28-day window are too few and too often zero to estimate from:
    median company cost on that weekday over the judged day's baseline window, divided by the
    median company cost over every day of the window, and at least 0.05 so that a weekday
    without cost still divides. A judged day whose window has fewer than 7 days (the company's
    first week of data) has no factors, and fct_cost_anomalies does not judge it.
    Computed in DOUBLE: it is a statistic, never money.
#}

{%- set baseline_window = var('anomaly_baseline_days') %}

with subject_days as (
    select
        usage_date,
        cost_usd
    from {{ ref('int_cost_subject_days') }}
    where subject_type = 'provider'
),

complete_days as (
    select usage_date
    from {{ ref('int_complete_days') }}
),

company_days as (
    select
        complete_days.usage_date,
        cast(coalesce(sum(subject_days.cost_usd), 0) as double) as company_cost_usd
    from complete_days
    left join subject_days
        on complete_days.usage_date = subject_days.usage_date
    group by complete_days.usage_date
),

-- one row per judged day and each day of its baseline window
window_days as (
    select
        judged.usage_date as judged_date,
        {{ llmeter.iso_day_of_week('baseline.usage_date') }} as iso_weekday,
        baseline.company_cost_usd
    from company_days as judged
    inner join company_days as baseline
        on
            baseline.usage_date >= {{ dbt.dateadd('day', -baseline_window, 'judged.usage_date') }}
            and judged.usage_date > baseline.usage_date
),

window_medians as (
    select
        judged_date,
        count(*) as window_days,
        {{ llmeter.percentile_cont('company_cost_usd', 0.5) }} as median_cost_usd
    from window_days
    group by judged_date
),

weekday_medians as (
    select
        judged_date,
        iso_weekday,
        {{ llmeter.percentile_cont('company_cost_usd', 0.5) }} as median_cost_usd
    from window_days
    group by judged_date, iso_weekday
),

final as (
    select
        weekday_medians.judged_date,
        weekday_medians.iso_weekday,
        case
            when window_medians.median_cost_usd <= 0 then 1.0
            else greatest(weekday_medians.median_cost_usd / window_medians.median_cost_usd, 0.05)
        end as weekday_factor
    from weekday_medians
    inner join window_medians
        on weekday_medians.judged_date = window_medians.judged_date
    where window_medians.window_days >= 7
)

select * from final
