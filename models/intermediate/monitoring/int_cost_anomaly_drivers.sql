{#
    One row per anomaly of fct_cost_anomalies: what explains the change of cost between its
    observed and baseline periods (int_cost_anomaly_comparison_days), and the main driver.

    Cost = requests * tokens per request * cost per token, each period one typical day
    (int_cost_anomaly_period_usage). Each factor's effect is the natural logarithm of its
    ratio, observed over baseline, so the effects of volume and tokens add up with that of
    cost per token. Cost per token is split further:
    - model_mix: the cost per token of the observed token mix at each model's baseline cost per
      token (a model new in the observed period keeps its observed cost per token), over the
      baseline cost per token;
    - price_change: the observed quantities valued at the observed period's list prices over the
      same quantities at the baseline period's mean list prices (int_cost_anomaly_price_effects);
    - cache_hit_rate: the observed quantities at baseline prices, over the same quantities with
      each model's input split between cache reads and uncached input at its baseline cache hit
      rate (int_cost_anomaly_price_effects).
    Changes of cost per token that none of these explain (the share of output tokens, batch
    use, billed against list cost) are left out. The main driver is the factor with the largest
    effect in the anomaly's direction: up for spikes and turned_unprofitable, down for drops.
    Calls that stop, or start from none, make `call_volume`. The main driver is null when no
    factor moved that way by more than 0.001 (0.1%).
    Effects are DOUBLE statistics, never money.
#}

with anomalies as (
    select distinct
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date
    from {{ ref('int_cost_anomaly_comparison_days') }}
),

period_models as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        comparison_period,
        provider,
        model,
        requests,
        tokens,
        cost_usd
    from {{ ref('int_cost_anomaly_period_usage') }}
),

price_values as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        value_at_observed_prices_usd,
        value_at_baseline_prices_usd,
        value_shift_at_baseline_cache_rate_usd
    from {{ ref('int_cost_anomaly_price_effects') }}
),

period_totals as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        sum(case when comparison_period = 'observed' then requests else 0 end) as observed_requests,
        sum(case when comparison_period = 'baseline' then requests else 0 end) as baseline_requests,
        sum(case when comparison_period = 'observed' then tokens else 0 end) as observed_tokens,
        sum(case when comparison_period = 'baseline' then tokens else 0 end) as baseline_tokens,
        sum(case when comparison_period = 'observed' then cost_usd else 0 end) as observed_cost_usd,
        sum(case when comparison_period = 'baseline' then cost_usd else 0 end) as baseline_cost_usd
    from period_models
    group by subject_type, subject_id, anomaly_type, anomaly_date
),

-- one row per anomaly and model used in either period
model_pairs as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        provider,
        model,
        sum(case when comparison_period = 'observed' then tokens else 0 end) as observed_tokens,
        sum(case when comparison_period = 'observed' then cost_usd else 0 end) as observed_cost_usd,
        sum(case when comparison_period = 'baseline' then tokens else 0 end) as baseline_tokens,
        sum(case when comparison_period = 'baseline' then cost_usd else 0 end) as baseline_cost_usd
    from period_models
    group by subject_type, subject_id, anomaly_type, anomaly_date, provider, model
),

-- the observed token mix valued at each model's baseline cost per token
mix_costs as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        sum(
            case
                when baseline_tokens > 0 then observed_tokens * baseline_cost_usd / baseline_tokens
                else observed_cost_usd
            end
        ) as observed_mix_at_baseline_cost_usd
    from model_pairs
    group by subject_type, subject_id, anomaly_type, anomaly_date
),

effects as (
    select
        anomalies.subject_type,
        anomalies.subject_id,
        anomalies.anomaly_type,
        anomalies.anomaly_date,
        coalesce(period_totals.observed_requests, 0) as observed_requests,
        coalesce(period_totals.baseline_requests, 0) as baseline_requests,
        case
            when period_totals.observed_requests > 0 and period_totals.baseline_requests > 0
                then ln(period_totals.observed_requests / period_totals.baseline_requests)
        end as call_volume_effect,
        case
            when
                period_totals.observed_requests > 0 and period_totals.baseline_requests > 0
                and period_totals.observed_tokens > 0 and period_totals.baseline_tokens > 0
                then ln(
                    (period_totals.observed_tokens / period_totals.observed_requests)
                    / (period_totals.baseline_tokens / period_totals.baseline_requests)
                )
        end as tokens_per_call_effect,
        case
            when
                period_totals.observed_tokens > 0 and period_totals.baseline_tokens > 0
                and period_totals.baseline_cost_usd > 0 and mix_costs.observed_mix_at_baseline_cost_usd > 0
                then ln(
                    (mix_costs.observed_mix_at_baseline_cost_usd / period_totals.observed_tokens)
                    / (period_totals.baseline_cost_usd / period_totals.baseline_tokens)
                )
        end as model_mix_effect,
        case
            when
                price_values.value_at_baseline_prices_usd > 0
                and price_values.value_at_baseline_prices_usd
                + price_values.value_shift_at_baseline_cache_rate_usd > 0
                then ln(
                    price_values.value_at_baseline_prices_usd
                    / (
                        price_values.value_at_baseline_prices_usd
                        + price_values.value_shift_at_baseline_cache_rate_usd
                    )
                )
        end as cache_hit_rate_effect,
        case
            when price_values.value_at_observed_prices_usd > 0 and price_values.value_at_baseline_prices_usd > 0
                then ln(price_values.value_at_observed_prices_usd / price_values.value_at_baseline_prices_usd)
        end as price_change_effect
    from anomalies
    left join period_totals
        on
            anomalies.subject_type = period_totals.subject_type
            and anomalies.subject_id = period_totals.subject_id
            and anomalies.anomaly_type = period_totals.anomaly_type
            and anomalies.anomaly_date = period_totals.anomaly_date
    left join mix_costs
        on
            anomalies.subject_type = mix_costs.subject_type
            and anomalies.subject_id = mix_costs.subject_id
            and anomalies.anomaly_type = mix_costs.anomaly_type
            and anomalies.anomaly_date = mix_costs.anomaly_date
    left join price_values
        on
            anomalies.subject_type = price_values.subject_type
            and anomalies.subject_id = price_values.subject_id
            and anomalies.anomaly_type = price_values.anomaly_type
            and anomalies.anomaly_date = price_values.anomaly_date
),

-- one row per anomaly and candidate driver, scored in the anomaly's direction
candidate_drivers as (
    {%- set drivers = ['call_volume', 'tokens_per_call', 'model_mix', 'cache_hit_rate', 'price_change'] %}
    {%- for driver in drivers %}
        select
            subject_type,
            subject_id,
            anomaly_type,
            anomaly_date,
            '{{ driver }}' as driver,
            {{ loop.index }} as driver_order,
            case when anomaly_type = 'cost_drop' then -1 else 1 end * {{ driver }}_effect as directed_effect
        from effects
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

ranked_drivers as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        driver,
        row_number() over (
            partition by subject_type, subject_id, anomaly_type, anomaly_date
            order by directed_effect desc, driver_order asc
        ) as driver_rank
    from candidate_drivers
    -- an effect under 0.001 (a 0.1% change) is rounding noise, not a driver
    where directed_effect > 0.001
),

final as (
    select
        effects.subject_type,
        effects.subject_id,
        effects.anomaly_type,
        effects.anomaly_date,
        effects.call_volume_effect,
        effects.tokens_per_call_effect,
        effects.model_mix_effect,
        effects.cache_hit_rate_effect,
        effects.price_change_effect,
        case
            when
                effects.anomaly_type = 'cost_drop'
                and effects.observed_requests = 0
                and effects.baseline_requests > 0
                then 'call_volume'
            when
                effects.anomaly_type <> 'cost_drop'
                and effects.baseline_requests = 0
                and effects.observed_requests > 0
                then 'call_volume'
            else ranked_drivers.driver
        end as main_driver
    from effects
    left join ranked_drivers
        on
            effects.subject_type = ranked_drivers.subject_type
            and effects.subject_id = ranked_drivers.subject_id
            and effects.anomaly_type = ranked_drivers.anomaly_type
            and effects.anomaly_date = ranked_drivers.anomaly_date
            and ranked_drivers.driver_rank = 1
)

select * from final
