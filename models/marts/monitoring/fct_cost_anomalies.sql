{#
    The cost anomalies a FinOps reader should look at, one row per anomaly: cost spikes and
    drops of a customer, a provider or a provider's unattributed cost
    (int_cost_subject_days_scored, merged into runs by int_cost_anomaly_episodes), and customers
    whose month turned unprofitable (int_customer_months_turned_unprofitable), each with the
    factor that explains it best (int_cost_anomaly_drivers).

    Severity: for a spike or drop, the smaller of |impact_usd| / anomaly_min_impact_usd and
    |robust_z_score| / anomaly_z_threshold (the impact ratio alone without a z-score) is
    `high` from anomaly_high_severity_multiple, `medium` from
    anomaly_medium_severity_multiple, else `low`. For turned_unprofitable, the month's gross
    margin as a share of its revenue: `high` at -100% or below (or without revenue), `medium`
    at -25% or below, else `low`.
#}

with episodes as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        last_anomaly_date,
        anomaly_days,
        episode_impact_usd,
        observed_value_usd,
        expected_value_usd,
        impact_usd,
        robust_z_score,
        baseline_days
    from {{ ref('int_cost_anomaly_episodes') }}
),

unprofitable_months as (
    select
        customer_id,
        month_start_date,
        month_end_date,
        revenue_usd,
        gross_margin_usd,
        previous_gross_margin_usd
    from {{ ref('int_customer_months_turned_unprofitable') }}
),

drivers as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        main_driver,
        call_volume_effect,
        tokens_per_call_effect,
        model_mix_effect,
        cache_hit_rate_effect,
        price_change_effect
    from {{ ref('int_cost_anomaly_drivers') }}
),

cost_anomalies as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        last_anomaly_date,
        anomaly_days,
        observed_value_usd,
        expected_value_usd,
        impact_usd,
        episode_impact_usd,
        robust_z_score,
        baseline_days,
        least(
            abs(impact_usd) / {{ var('anomaly_min_impact_usd') }},
            coalesce(abs(robust_z_score) / {{ var('anomaly_z_threshold') }}, abs(impact_usd) / {{ var('anomaly_min_impact_usd') }})
        ) as severity_multiple
    from episodes
),

severities as (
    select
        *,
        case
            when severity_multiple >= {{ var('anomaly_high_severity_multiple') }} then 'high'
            when severity_multiple >= {{ var('anomaly_medium_severity_multiple') }} then 'medium'
            else 'low'
        end as severity
    from cost_anomalies
),

unprofitable_anomalies as (
    select
        'customer' as subject_type,
        customer_id as subject_id,
        'turned_unprofitable' as anomaly_type,
        month_start_date as anomaly_date,
        month_end_date as last_anomaly_date,
        cast(null as integer) as anomaly_days,
        gross_margin_usd as observed_value_usd,
        previous_gross_margin_usd as expected_value_usd,
        gross_margin_usd - previous_gross_margin_usd as impact_usd,
        cast(null as {{ llmeter.type_usd() }}) as episode_impact_usd,
        cast(null as double) as robust_z_score,
        cast(null as integer) as baseline_days,
        case
            when revenue_usd <= 0 or gross_margin_usd <= -revenue_usd then 'high'
            when gross_margin_usd <= -0.25 * revenue_usd then 'medium'
            else 'low'
        end as severity
    from unprofitable_months
),

all_anomalies as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        last_anomaly_date,
        anomaly_days,
        observed_value_usd,
        expected_value_usd,
        impact_usd,
        episode_impact_usd,
        robust_z_score,
        baseline_days,
        severity
    from severities
    union all
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        last_anomaly_date,
        anomaly_days,
        observed_value_usd,
        expected_value_usd,
        impact_usd,
        episode_impact_usd,
        robust_z_score,
        baseline_days,
        severity
    from unprofitable_anomalies
),

final as (
    select
        {{ llmeter.surrogate_key([
            'all_anomalies.subject_type',
            'all_anomalies.subject_id',
            'all_anomalies.anomaly_type',
            'all_anomalies.anomaly_date',
        ]) }} as anomaly_id,
        all_anomalies.subject_type,
        all_anomalies.subject_id,
        all_anomalies.anomaly_type,
        all_anomalies.anomaly_date,
        all_anomalies.last_anomaly_date,
        cast(all_anomalies.anomaly_days as integer) as anomaly_days,
        cast(all_anomalies.observed_value_usd as {{ llmeter.type_usd() }}) as observed_value_usd,
        cast(all_anomalies.expected_value_usd as {{ llmeter.type_usd() }}) as expected_value_usd,
        cast(all_anomalies.impact_usd as {{ llmeter.type_usd() }}) as impact_usd,
        cast(
            {{ llmeter.exact_ratio('all_anomalies.impact_usd', 'abs(all_anomalies.expected_value_usd)', 4) }} * 100
            as decimal(38, 2)
        ) as impact_pct,
        cast(all_anomalies.episode_impact_usd as {{ llmeter.type_usd() }}) as episode_impact_usd,
        round(all_anomalies.robust_z_score, 2) as robust_z_score,
        cast(all_anomalies.baseline_days as integer) as baseline_days,
        all_anomalies.severity,
        drivers.main_driver,
        round(drivers.call_volume_effect, 4) as call_volume_effect,
        round(drivers.tokens_per_call_effect, 4) as tokens_per_call_effect,
        round(drivers.model_mix_effect, 4) as model_mix_effect,
        round(drivers.cache_hit_rate_effect, 4) as cache_hit_rate_effect,
        round(drivers.price_change_effect, 4) as price_change_effect
    from all_anomalies
    left join drivers
        on
            all_anomalies.subject_type = drivers.subject_type
            and all_anomalies.subject_id = drivers.subject_id
            and all_anomalies.anomaly_type = drivers.anomaly_type
            and all_anomalies.anomaly_date = drivers.anomaly_date
)

select * from final
