{#
    One row per judged subject and complete day: the day's cost against its trailing baseline,
    and whether it is a cost spike or a cost drop. A day is judged once the company has a week
    of data (weekday factors) and the subject has a baseline day. A subject already present on
    the first day of cost data has history the warehouse never loaded, so it is not judged
    until it has `anomaly_min_history_days` baseline days, because the warehouse's first
    weeks are a warm-up, not a stream of new customers.

    - Baseline: the `anomaly_baseline_days` days before the day, from the subject's first day
      on, days without cost counting as zero. Each baseline day's cost is divided by its
      weekday factor (int_cost_weekday_factors), and the expected cost is the median of those
      values times the judged day's weekday factor.
    - Robust z-score (Iglewicz and Hoaglin's modified z-score, 0.6745 * deviation / MAD) on
      ln(weekday-adjusted cost + anomaly_log_offset_usd): daily LLM cost varies by factors
      rather than by dollars, so on a log scale a 20-fold day and a stop to zero both score far
      out whatever the subject's size. The MAD is at least `anomaly_mad_floor`, so a flat
      history divides by a finite number. Null while a new subject (first seen after the first
      day of cost data) has fewer than `anomaly_min_history_days` baseline days, and such a
      day is judged by the floors alone.
    - A spike needs z >= anomaly_z_threshold, observed - expected >= anomaly_min_impact_usd and
      observed >= expected * (1 + anomaly_min_impact_ratio). A drop needs the same downwards.
      The relative floor (25% by default) is low enough that a provider's 20-33% list-price
      cut flags the customers whose calls go to the cut model; the z-score, not the relative
      floor, keeps ordinary day-to-day variation out.
    Statistics are DOUBLE, the costs stay DECIMAL, and the expected cost is rounded to 1e-6 USD.
#}

{%- set baseline_window = var('anomaly_baseline_days') %}
{%- set log_offset = var('anomaly_log_offset_usd') %}

with subject_days as (
    select
        subject_type,
        subject_id,
        usage_date,
        first_usage_date,
        requests,
        cost_usd
    from {{ ref('int_cost_subject_days') }}
),

cost_data_start as (
    select min(usage_date) as first_usage_date
    from {{ ref('int_complete_days') }}
),

weekday_factors as (
    select
        judged_date,
        iso_weekday,
        weekday_factor
    from {{ ref('int_cost_weekday_factors') }}
),

-- one row per judged subject-day and each day of its baseline window
baseline_pairs as (
    select
        judged.subject_type,
        judged.subject_id,
        judged.usage_date as judged_date,
        cast(baseline.cost_usd as double)
        / baseline_factors.weekday_factor as adjusted_cost_usd
    from subject_days as judged
    inner join subject_days as baseline
        on
            judged.subject_type = baseline.subject_type
            and judged.subject_id = baseline.subject_id
            and baseline.usage_date >= {{ dbt.dateadd('day', -baseline_window, 'judged.usage_date') }}
            and judged.usage_date > baseline.usage_date
    inner join weekday_factors as baseline_factors
        on
            judged.usage_date = baseline_factors.judged_date
            and baseline_factors.iso_weekday = {{ llmeter.iso_day_of_week('baseline.usage_date') }}
),

baseline_medians as (
    select
        subject_type,
        subject_id,
        judged_date,
        count(*) as baseline_days,
        {{ llmeter.percentile_cont('adjusted_cost_usd', 0.5) }} as median_adjusted_cost_usd
    from baseline_pairs
    group by subject_type, subject_id, judged_date
),

baseline_spreads as (
    select
        baseline_pairs.subject_type,
        baseline_pairs.subject_id,
        baseline_pairs.judged_date,
        {{ llmeter.percentile_cont(
            'abs(ln(baseline_pairs.adjusted_cost_usd + ' ~ log_offset ~ ')'
            ~ ' - ln(baseline_medians.median_adjusted_cost_usd + ' ~ log_offset ~ '))',
            0.5) }} as log_mad
    from baseline_pairs
    inner join baseline_medians
        on
            baseline_pairs.subject_type = baseline_medians.subject_type
            and baseline_pairs.subject_id = baseline_medians.subject_id
            and baseline_pairs.judged_date = baseline_medians.judged_date
    group by baseline_pairs.subject_type, baseline_pairs.subject_id, baseline_pairs.judged_date
),

judged_days as (
    select
        subject_days.subject_type,
        subject_days.subject_id,
        subject_days.usage_date,
        subject_days.requests,
        subject_days.cost_usd,
        baseline_medians.baseline_days,
        baseline_medians.median_adjusted_cost_usd,
        baseline_spreads.log_mad,
        judged_factors.weekday_factor
    from subject_days
    cross join cost_data_start
    inner join baseline_medians
        on
            subject_days.subject_type = baseline_medians.subject_type
            and subject_days.subject_id = baseline_medians.subject_id
            and subject_days.usage_date = baseline_medians.judged_date
    inner join baseline_spreads
        on
            subject_days.subject_type = baseline_spreads.subject_type
            and subject_days.subject_id = baseline_spreads.subject_id
            and subject_days.usage_date = baseline_spreads.judged_date
    inner join weekday_factors as judged_factors
        on
            subject_days.usage_date = judged_factors.judged_date
            and judged_factors.iso_weekday = {{ llmeter.iso_day_of_week('subject_days.usage_date') }}
    -- a subject seen since the first day of data is not new, so it waits for its z-score
    where
        baseline_medians.baseline_days >= {{ var('anomaly_min_history_days') }}
        or subject_days.first_usage_date > cost_data_start.first_usage_date
),

expected_days as (
    select
        *,
        cast(
            round(median_adjusted_cost_usd * weekday_factor, 6) as {{ llmeter.type_usd() }}
        ) as expected_cost_usd,
        ln(cast(cost_usd as double) / weekday_factor + {{ log_offset }})
        - ln(median_adjusted_cost_usd + {{ log_offset }}) as log_deviation
    from judged_days
),

scored_days as (
    select
        *,
        cost_usd - expected_cost_usd as impact_usd,
        case
            when baseline_days >= {{ var('anomaly_min_history_days') }}
                then 0.6745 * log_deviation / greatest(log_mad, {{ var('anomaly_mad_floor') }})
        end as robust_z_score
    from expected_days
),

final as (
    select
        subject_type,
        subject_id,
        usage_date,
        requests,
        cost_usd,
        expected_cost_usd,
        impact_usd,
        robust_z_score,
        baseline_days,
        weekday_factor,
        case
            when
                impact_usd >= {{ var('anomaly_min_impact_usd') }}
                and cost_usd >= expected_cost_usd * (1 + {{ var('anomaly_min_impact_ratio') }})
                and coalesce(robust_z_score >= {{ var('anomaly_z_threshold') }}, true)
                then 'cost_spike'
            when
                -impact_usd >= {{ var('anomaly_min_impact_usd') }}
                and cost_usd <= expected_cost_usd * (1 - {{ var('anomaly_min_impact_ratio') }})
                and coalesce(robust_z_score <= -{{ var('anomaly_z_threshold') }}, true)
                then 'cost_drop'
        end as anomaly_type
    from scored_days
)

select * from final
