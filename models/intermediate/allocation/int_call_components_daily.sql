{#
    One row per provider, UTC day, model (as the provider named it), price component, service
    tier, context tier, sub-account and customer: the quantity the customer's tagged calls used
    and its list cost. This is the call side of the provider grain that the allocation matches
    to the provider's usage report and billed cost. Only components with a quantity above zero
    have rows.
#}

with

calls as (
    select
        provider,
        usage_date,
        model,
        service_tier,
        context_tier,
        sub_account_id,
        customer_id,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        web_search_requests,
        input_uncached_cost_usd,
        cache_read_cost_usd,
        cache_write_5m_cost_usd,
        cache_write_1h_cost_usd,
        output_cost_usd,
        web_search_request_cost_usd,
        is_priced
    from {{ ref('int_llm_calls_priced') }}
),

call_components as (
    {%- for component, quantity in [
        ('input_uncached', 'input_uncached_tokens'),
        ('cache_read', 'cache_read_tokens'),
        ('cache_write_5m', 'cache_write_5m_tokens'),
        ('cache_write_1h', 'cache_write_1h_tokens'),
        ('output', 'output_tokens'),
        ('web_search_request', 'web_search_requests'),
    ] %}
        select
            provider,
            usage_date,
            model,
            '{{ component }}' as price_component,
            service_tier,
            context_tier,
            sub_account_id,
            customer_id,
            {{ quantity }} as quantity,
            {{ component }}_cost_usd as list_cost_usd,
            is_priced
        from calls
        where {{ quantity }} > 0
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        customer_id,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as quantity,
        cast(sum(list_cost_usd) as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(count(*) as {{ dbt.type_bigint() }}) as calls,
        cast(sum(case when is_priced then 0 else 1 end) as {{ dbt.type_bigint() }}) as unpriced_calls
    from call_components
    group by
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        customer_id
)

select * from final
