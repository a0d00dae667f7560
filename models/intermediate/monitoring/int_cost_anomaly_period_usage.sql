{#
    The usage and cost of each anomaly's subject in the two periods compared
    (int_cost_anomaly_comparison_days), as one typical day per period: one row per anomaly,
    comparison period, provider and model, each quantity the sum over the period's days of
    the day's quantity times its weight. Quantities are DOUBLE, because weights are fractions,
    and they only explain anomalies: nothing is billed from them.
#}

with comparison_days as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        comparison_period,
        usage_date,
        day_weight
    from {{ ref('int_cost_anomaly_comparison_days') }}
),

subject_models as (
    select
        subject_type,
        subject_id,
        usage_date,
        provider,
        model,
        requests,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        web_search_requests,
        cost_usd
    from {{ ref('int_cost_subject_models_daily') }}
),

final as (
    select
        comparison_days.subject_type,
        comparison_days.subject_id,
        comparison_days.anomaly_type,
        comparison_days.anomaly_date,
        comparison_days.comparison_period,
        subject_models.provider,
        subject_models.model,
        sum(comparison_days.day_weight * subject_models.requests) as requests,
        sum(comparison_days.day_weight * subject_models.input_uncached_tokens) as input_uncached_tokens,
        sum(comparison_days.day_weight * subject_models.cache_read_tokens) as cache_read_tokens,
        sum(comparison_days.day_weight * subject_models.cache_write_5m_tokens) as cache_write_5m_tokens,
        sum(comparison_days.day_weight * subject_models.cache_write_1h_tokens) as cache_write_1h_tokens,
        sum(comparison_days.day_weight * subject_models.output_tokens) as output_tokens,
        sum(comparison_days.day_weight * subject_models.web_search_requests) as web_search_requests,
        sum(comparison_days.day_weight * subject_models.input_uncached_tokens)
        + sum(comparison_days.day_weight * subject_models.cache_read_tokens)
        + sum(comparison_days.day_weight * subject_models.cache_write_5m_tokens)
        + sum(comparison_days.day_weight * subject_models.cache_write_1h_tokens)
        + sum(comparison_days.day_weight * subject_models.output_tokens) as tokens,
        sum(comparison_days.day_weight * cast(subject_models.cost_usd as double)) as cost_usd
    from comparison_days
    inner join subject_models
        on
            comparison_days.subject_type = subject_models.subject_type
            and comparison_days.subject_id = subject_models.subject_id
            and comparison_days.usage_date = subject_models.usage_date
    group by
        comparison_days.subject_type,
        comparison_days.subject_id,
        comparison_days.anomaly_type,
        comparison_days.anomaly_date,
        comparison_days.comparison_period,
        subject_models.provider,
        subject_models.model
)

select * from final
