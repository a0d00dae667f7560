{#
    One row per provider and model (as the provider named it) with tagged calls that no price
    row covers: an unknown model, or a service tier or price component without a price. Their
    list cost is null in fct_llm_calls, never $0; the warn test on this model counts them.
#}

with

unpriced_calls as (
    select
        provider,
        model,
        service_tier,
        unpriced_reason,
        occurred_at,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        web_search_requests
    from {{ ref('int_llm_calls_priced') }}
    where not is_priced
),

final as (
    select
        provider,
        model,
        {{ dbt.listagg('distinct unpriced_reason', "'; '", 'order by unpriced_reason') }}
            as unpriced_reasons,
        {{ dbt.listagg('distinct service_tier', "', '", 'order by service_tier') }}
            as service_tiers,
        cast(count(*) as {{ dbt.type_bigint() }}) as calls,
        cast(sum(input_uncached_tokens) as {{ dbt.type_bigint() }}) as input_uncached_tokens,
        cast(sum(cache_read_tokens) as {{ dbt.type_bigint() }}) as cache_read_tokens,
        cast(sum(cache_write_5m_tokens) as {{ dbt.type_bigint() }}) as cache_write_5m_tokens,
        cast(sum(cache_write_1h_tokens) as {{ dbt.type_bigint() }}) as cache_write_1h_tokens,
        cast(sum(output_tokens) as {{ dbt.type_bigint() }}) as output_tokens,
        cast(sum(reasoning_tokens) as {{ dbt.type_bigint() }}) as reasoning_tokens,
        cast(sum(web_search_requests) as {{ dbt.type_bigint() }}) as web_search_requests,
        cast(min(occurred_at) as {{ dbt.type_timestamp() }}) as first_seen_at,
        cast(max(occurred_at) as {{ dbt.type_timestamp() }}) as last_seen_at
    from unpriced_calls
    group by
        provider,
        model
)

select * from final
