{#
    Cost per tag key and value, per UTC day and provider, additive within each key: for every
    key, the rows of a day and provider add up to all tagged calls of that day and provider,
    because calls without the key are counted under the value `(none)`.

    A key gets rows on a day when any call carried it within `tag_key_lookback_days` days up to
    that day, so a key that stops being sent shows as all `(none)` instead of vanishing.

    Allocated cost is not known per call: each customer-day-provider-model allocated cost is
    spread over its calls by list cost (int_llm_calls_allocated), and int_tag_values_daily sums
    it per tag value and day. Cost that no tagged call
    explains (`(unattributed)`) has no tags and is not here (see fct_attribution_coverage).
#}

{%- set lookback_days = var('tag_key_lookback_days') %}

with calls as (
    select
        usage_date,
        provider,
        requests,
        is_priced,
        list_cost_usd,
        allocated_cost_usd
    from {{ ref('int_llm_calls_allocated') }}
),

value_totals as (
    select
        usage_date,
        provider,
        tag_key,
        tag_value,
        calls,
        requests,
        unpriced_calls,
        list_cost_usd,
        allocated_cost_usd
    from {{ ref('int_tag_values_daily') }}
),

provider_day_totals as (
    select
        usage_date,
        provider,
        count(*) as calls,
        sum(requests) as requests,
        sum(case when is_priced then 0 else 1 end) as unpriced_calls,
        sum(coalesce(list_cost_usd, 0)) as list_cost_usd,
        sum(coalesce(allocated_cost_usd, 0)) as allocated_cost_usd
    from calls
    group by usage_date, provider
),

key_seen_days as (
    select distinct
        usage_date,
        tag_key
    from value_totals
),

-- one row per provider-day and every key seen on a call in its lookback window
provider_day_keys as (
    select distinct
        provider_day_totals.usage_date,
        provider_day_totals.provider,
        key_seen_days.tag_key
    from provider_day_totals
    inner join key_seen_days
        on
            key_seen_days.usage_date
            >= {{ dbt.dateadd('day', 1 - lookback_days, 'provider_day_totals.usage_date') }}
            and provider_day_totals.usage_date >= key_seen_days.usage_date
),

key_totals as (
    select
        usage_date,
        provider,
        tag_key,
        sum(calls) as calls,
        sum(requests) as requests,
        sum(unpriced_calls) as unpriced_calls,
        sum(list_cost_usd) as list_cost_usd,
        sum(allocated_cost_usd) as allocated_cost_usd
    from value_totals
    group by usage_date, provider, tag_key
),

-- the calls of a provider-day that do not carry the key
missing_key_totals as (
    select
        provider_day_keys.usage_date,
        provider_day_keys.provider,
        provider_day_keys.tag_key,
        '(none)' as tag_value,
        provider_day_totals.calls - coalesce(key_totals.calls, 0) as calls,
        provider_day_totals.requests - coalesce(key_totals.requests, 0) as requests,
        provider_day_totals.unpriced_calls - coalesce(key_totals.unpriced_calls, 0) as unpriced_calls,
        provider_day_totals.list_cost_usd - coalesce(key_totals.list_cost_usd, 0) as list_cost_usd,
        provider_day_totals.allocated_cost_usd - coalesce(key_totals.allocated_cost_usd, 0) as allocated_cost_usd
    from provider_day_keys
    inner join provider_day_totals
        on
            provider_day_keys.usage_date = provider_day_totals.usage_date
            and provider_day_keys.provider = provider_day_totals.provider
    left join key_totals
        on
            provider_day_keys.usage_date = key_totals.usage_date
            and provider_day_keys.provider = key_totals.provider
            and provider_day_keys.tag_key = key_totals.tag_key
),

unioned as (
    select
        usage_date,
        provider,
        tag_key,
        tag_value,
        calls,
        requests,
        unpriced_calls,
        list_cost_usd,
        allocated_cost_usd
    from value_totals
    union all
    select
        usage_date,
        provider,
        tag_key,
        tag_value,
        calls,
        requests,
        unpriced_calls,
        list_cost_usd,
        allocated_cost_usd
    from missing_key_totals
    where calls > 0
),

final as (
    select
        usage_date,
        provider,
        tag_key,
        tag_value,
        cast(calls as {{ dbt.type_bigint() }}) as calls,
        cast(requests as {{ dbt.type_bigint() }}) as requests,
        cast(unpriced_calls as {{ dbt.type_bigint() }}) as unpriced_calls,
        cast(list_cost_usd as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(allocated_cost_usd as {{ llmeter.type_usd() }}) as allocated_cost_usd
    from unioned
)

select * from final
