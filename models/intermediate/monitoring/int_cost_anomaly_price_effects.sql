{#
    One row per anomaly whose observed usage includes a model with list prices: that usage
    valued at list prices, the numbers int_cost_anomaly_drivers takes the price and cache hit
    rate effects from.

    - value_at_observed_prices_usd: observed quantities times the mean standard-tier base price
      over the observed period's days (int_model_prices, for the model fct_llm_calls priced
      the calls as, and a contract price where one is in force);
    - value_at_baseline_prices_usd: the same quantities at the mean price over the baseline
      period's days, weighted like the days themselves;
    - value_shift_at_baseline_cache_rate_usd: how much value_at_baseline_prices_usd would change
      had each model split its observed input (uncached plus cache reads) between cache reads
      and uncached input at its baseline cache hit rate.
    Only price components priced in both periods count. DOUBLE statistics, never billed.
#}

{%- set components = [
    ('input_uncached', 'input_uncached_tokens'),
    ('cache_read', 'cache_read_tokens'),
    ('cache_write_5m', 'cache_write_5m_tokens'),
    ('cache_write_1h', 'cache_write_1h_tokens'),
    ('output', 'output_tokens'),
    ('web_search_request', 'web_search_requests'),
] %}

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

period_models as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        comparison_period,
        provider,
        model,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        web_search_requests
    from {{ ref('int_cost_anomaly_period_usage') }}
),

-- the model name the price seed uses for each model name in the cost marts
priced_model_names as (
    select
        provider,
        model,
        min(priced_model) as priced_model
    from {{ ref('fct_llm_calls') }}
    where priced_model is not null
    group by provider, model
),

model_prices as (
    select
        provider,
        model,
        price_component,
        price_priority,
        valid_from_at,
        valid_to_at,
        case
            when unit = 'per_thousand_requests' then cast(price_usd as double) * 0.001
            else cast(price_usd as double) * 0.000001
        end as unit_price_usd
    from {{ ref('int_model_prices') }}
    where
        service_tier = 'standard'
        and tier_threshold_tokens = 0
),

-- one row per anomaly and model used in either period, with its input split
model_pairs as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        provider,
        model,
        sum(case when comparison_period = 'observed' then input_uncached_tokens else 0 end)
            as observed_input_uncached_tokens,
        sum(case when comparison_period = 'observed' then cache_read_tokens else 0 end)
            as observed_cache_read_tokens,
        sum(case when comparison_period = 'baseline' then input_uncached_tokens else 0 end)
            as baseline_input_uncached_tokens,
        sum(case when comparison_period = 'baseline' then cache_read_tokens else 0 end)
            as baseline_cache_read_tokens
    from period_models
    group by subject_type, subject_id, anomaly_type, anomaly_date, provider, model
),

-- the price in force for each model's price components on each compared day, where a
-- contract price (higher price_priority) wins over a list price
day_prices as (
    select
        comparison_days.subject_type,
        comparison_days.subject_id,
        comparison_days.anomaly_type,
        comparison_days.anomaly_date,
        comparison_days.comparison_period,
        comparison_days.usage_date,
        comparison_days.day_weight,
        model_pairs.provider,
        model_pairs.model,
        model_prices.price_component,
        model_prices.unit_price_usd,
        row_number() over (
            partition by
                comparison_days.subject_type,
                comparison_days.subject_id,
                comparison_days.anomaly_type,
                comparison_days.anomaly_date,
                comparison_days.usage_date,
                model_pairs.provider,
                model_pairs.model,
                model_prices.price_component
            order by model_prices.price_priority desc, model_prices.valid_from_at desc
        ) as price_rank
    from comparison_days
    inner join model_pairs
        on
            comparison_days.subject_type = model_pairs.subject_type
            and comparison_days.subject_id = model_pairs.subject_id
            and comparison_days.anomaly_type = model_pairs.anomaly_type
            and comparison_days.anomaly_date = model_pairs.anomaly_date
    left join priced_model_names
        on
            model_pairs.provider = priced_model_names.provider
            and model_pairs.model = priced_model_names.model
    inner join model_prices
        on
            model_pairs.provider = model_prices.provider
            and coalesce(priced_model_names.priced_model, model_pairs.model) = model_prices.model
            and model_prices.valid_from_at <= cast(comparison_days.usage_date as {{ dbt.type_timestamp() }})
            and (
                model_prices.valid_to_at is null
                or model_prices.valid_to_at > cast(comparison_days.usage_date as {{ dbt.type_timestamp() }})
            )
),

-- the mean price of each model's price components over each period
period_prices as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        comparison_period,
        provider,
        model,
        price_component,
        sum(day_weight * unit_price_usd) / sum(day_weight) as unit_price_usd
    from day_prices
    where price_rank = 1
    group by
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        comparison_period,
        provider,
        model,
        price_component
),

observed_quantities as (
    {%- for component, quantity_column in components %}
        select
            subject_type,
            subject_id,
            anomaly_type,
            anomaly_date,
            provider,
            model,
            '{{ component }}' as price_component,
            {{ quantity_column }} as quantity
        from period_models
        where comparison_period = 'observed'
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

-- observed quantities valued at observed and at baseline prices, where both exist
priced_quantities as (
    select
        observed_quantities.subject_type,
        observed_quantities.subject_id,
        observed_quantities.anomaly_type,
        observed_quantities.anomaly_date,
        observed_quantities.provider,
        observed_quantities.model,
        observed_quantities.price_component,
        baseline_prices.unit_price_usd as baseline_unit_price_usd,
        observed_quantities.quantity * observed_prices.unit_price_usd as value_at_observed_prices_usd,
        observed_quantities.quantity * baseline_prices.unit_price_usd as value_at_baseline_prices_usd
    from observed_quantities
    inner join period_prices as observed_prices
        on
            observed_quantities.subject_type = observed_prices.subject_type
            and observed_quantities.subject_id = observed_prices.subject_id
            and observed_quantities.anomaly_type = observed_prices.anomaly_type
            and observed_quantities.anomaly_date = observed_prices.anomaly_date
            and observed_quantities.provider = observed_prices.provider
            and observed_quantities.model = observed_prices.model
            and observed_quantities.price_component = observed_prices.price_component
            and observed_prices.comparison_period = 'observed'
    inner join period_prices as baseline_prices
        on
            observed_quantities.subject_type = baseline_prices.subject_type
            and observed_quantities.subject_id = baseline_prices.subject_id
            and observed_quantities.anomaly_type = baseline_prices.anomaly_type
            and observed_quantities.anomaly_date = baseline_prices.anomaly_date
            and observed_quantities.provider = baseline_prices.provider
            and observed_quantities.model = baseline_prices.model
            and observed_quantities.price_component = baseline_prices.price_component
            and baseline_prices.comparison_period = 'baseline'
),

price_values as (
    select
        subject_type,
        subject_id,
        anomaly_type,
        anomaly_date,
        sum(value_at_observed_prices_usd) as value_at_observed_prices_usd,
        sum(value_at_baseline_prices_usd) as value_at_baseline_prices_usd
    from priced_quantities
    group by subject_type, subject_id, anomaly_type, anomaly_date
),

-- the change in value at baseline prices had each model kept its baseline cache hit rate
cache_shifts as (
    select
        model_pairs.subject_type,
        model_pairs.subject_id,
        model_pairs.anomaly_type,
        model_pairs.anomaly_date,
        sum(
            (
                (model_pairs.observed_input_uncached_tokens + model_pairs.observed_cache_read_tokens)
                * model_pairs.baseline_cache_read_tokens
                / (model_pairs.baseline_input_uncached_tokens + model_pairs.baseline_cache_read_tokens)
                - model_pairs.observed_cache_read_tokens
            )
            * (cache_read_prices.baseline_unit_price_usd - uncached_prices.baseline_unit_price_usd)
        ) as value_shift_at_baseline_cache_rate_usd
    from model_pairs
    inner join priced_quantities as cache_read_prices
        on
            model_pairs.subject_type = cache_read_prices.subject_type
            and model_pairs.subject_id = cache_read_prices.subject_id
            and model_pairs.anomaly_type = cache_read_prices.anomaly_type
            and model_pairs.anomaly_date = cache_read_prices.anomaly_date
            and model_pairs.provider = cache_read_prices.provider
            and model_pairs.model = cache_read_prices.model
            and cache_read_prices.price_component = 'cache_read'
    inner join priced_quantities as uncached_prices
        on
            model_pairs.subject_type = uncached_prices.subject_type
            and model_pairs.subject_id = uncached_prices.subject_id
            and model_pairs.anomaly_type = uncached_prices.anomaly_type
            and model_pairs.anomaly_date = uncached_prices.anomaly_date
            and model_pairs.provider = uncached_prices.provider
            and model_pairs.model = uncached_prices.model
            and uncached_prices.price_component = 'input_uncached'
    where model_pairs.baseline_input_uncached_tokens + model_pairs.baseline_cache_read_tokens > 0
    group by
        model_pairs.subject_type,
        model_pairs.subject_id,
        model_pairs.anomaly_type,
        model_pairs.anomaly_date
),

final as (
    select
        price_values.subject_type,
        price_values.subject_id,
        price_values.anomaly_type,
        price_values.anomaly_date,
        price_values.value_at_observed_prices_usd,
        price_values.value_at_baseline_prices_usd,
        coalesce(cache_shifts.value_shift_at_baseline_cache_rate_usd, 0)
            as value_shift_at_baseline_cache_rate_usd
    from price_values
    left join cache_shifts
        on
            price_values.subject_type = cache_shifts.subject_type
            and price_values.subject_id = cache_shifts.subject_id
            and price_values.anomaly_type = cache_shifts.anomaly_type
            and price_values.anomaly_date = cache_shifts.anomaly_date
)

select * from final
