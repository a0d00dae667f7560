{#
    One row per cost anomaly: a run of flagged days (int_cost_subject_days_scored) of one
    subject and type, each at most `anomaly_episode_gap_days` days after the previous one. A
    customer whose calls stop is flagged every day until the zeros fill half of its baseline,
    and those days are one anomaly. Its first day dates it and gives its observed, expected and
    z values.
#}

with flagged_days as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        usage_date,
        cost_usd,
        expected_cost_usd,
        impact_usd,
        robust_z_score,
        baseline_days
    from {{ ref('int_cost_subject_days_scored') }}
    where anomaly_type is not null
),

previous_flags as (
    select
        *,
        lag(usage_date) over (
            partition by subject_type, subject_id, anomaly_type
            order by usage_date
        ) as previous_flagged_date
    from flagged_days
),

episode_starts as (
    select
        *,
        case
            when previous_flagged_date is null then 1
            when
                {{ dbt.datediff('previous_flagged_date', 'usage_date', 'day') }}
                > {{ var('anomaly_episode_gap_days') }}
                then 1
            else 0
        end as is_episode_start
    from previous_flags
),

numbered_days as (
    select
        *,
        sum(is_episode_start) over (
            partition by subject_type, subject_id, anomaly_type
            order by usage_date
            rows between unbounded preceding and current row
        ) as episode_number
    from episode_starts
),

episode_totals as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        episode_number,
        min(usage_date) as anomaly_date,
        max(usage_date) as last_anomaly_date,
        count(*) as anomaly_days,
        sum(impact_usd) as episode_impact_usd
    from numbered_days
    group by subject_type, subject_id, anomaly_type, episode_number
),

final as (
    select
        episode_totals.subject_type,
        episode_totals.subject_id,
        episode_totals.anomaly_type,
        episode_totals.anomaly_date,
        episode_totals.last_anomaly_date,
        episode_totals.anomaly_days,
        episode_totals.episode_impact_usd,
        numbered_days.cost_usd as observed_value_usd,
        numbered_days.expected_cost_usd as expected_value_usd,
        numbered_days.impact_usd,
        numbered_days.robust_z_score,
        numbered_days.baseline_days
    from episode_totals
    inner join numbered_days
        on
            episode_totals.subject_type = numbered_days.subject_type
            and episode_totals.subject_id = numbered_days.subject_id
            and episode_totals.anomaly_type = numbered_days.anomaly_type
            and episode_totals.anomaly_date = numbered_days.usage_date
)

select * from final
