{#
    One row per tagged LLM call, priced at the list price in force when it ran. The public
    face of int_llm_calls_priced, without its bookkeeping columns, with every column cast to
    its contract type. A view, so that the nightly run does not copy the calls again.
#}

{{ config(materialized='view') }}

with

calls as (
    select
        event_id,
        occurred_at,
        usage_date,
        provider,
        model,
        priced_model,
        model_match,
        customer_id,
        service_tier,
        context_tier,
        sub_account_id,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        web_search_requests,
        requests,
        total_input_tokens,
        input_uncached_price_key,
        input_uncached_price_usd,
        input_uncached_cost_usd,
        cache_read_price_key,
        cache_read_price_usd,
        cache_read_cost_usd,
        cache_write_5m_price_key,
        cache_write_5m_price_usd,
        cache_write_5m_cost_usd,
        cache_write_1h_price_key,
        cache_write_1h_price_usd,
        cache_write_1h_cost_usd,
        output_price_key,
        output_price_usd,
        output_cost_usd,
        web_search_request_price_key,
        web_search_request_price_usd,
        web_search_request_cost_usd,
        is_priced,
        unpriced_reason,
        list_cost_usd,
        priced_at
    from {{ ref('int_llm_calls_priced') }}
),

final as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(usage_date as date) as usage_date,
        cast(provider as {{ dbt.type_string() }}) as provider,
        cast(model as {{ dbt.type_string() }}) as model,
        cast(priced_model as {{ dbt.type_string() }}) as priced_model,
        cast(model_match as {{ dbt.type_string() }}) as model_match,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(service_tier as {{ dbt.type_string() }}) as service_tier,
        cast(context_tier as {{ dbt.type_string() }}) as context_tier,
        cast(sub_account_id as {{ dbt.type_string() }}) as sub_account_id,
        cast(input_uncached_tokens as {{ dbt.type_bigint() }}) as input_uncached_tokens,
        cast(cache_read_tokens as {{ dbt.type_bigint() }}) as cache_read_tokens,
        cast(cache_write_5m_tokens as {{ dbt.type_bigint() }}) as cache_write_5m_tokens,
        cast(cache_write_1h_tokens as {{ dbt.type_bigint() }}) as cache_write_1h_tokens,
        cast(output_tokens as {{ dbt.type_bigint() }}) as output_tokens,
        cast(reasoning_tokens as {{ dbt.type_bigint() }}) as reasoning_tokens,
        cast(web_search_requests as {{ dbt.type_bigint() }}) as web_search_requests,
        cast(requests as {{ dbt.type_bigint() }}) as requests,
        cast(total_input_tokens as {{ dbt.type_bigint() }}) as total_input_tokens,
        cast(input_uncached_price_key as {{ dbt.type_string() }}) as input_uncached_price_key,
        cast(input_uncached_price_usd as {{ llmeter.type_price() }}) as input_uncached_price_usd,
        cast(input_uncached_cost_usd as {{ llmeter.type_usd() }}) as input_uncached_cost_usd,
        cast(cache_read_price_key as {{ dbt.type_string() }}) as cache_read_price_key,
        cast(cache_read_price_usd as {{ llmeter.type_price() }}) as cache_read_price_usd,
        cast(cache_read_cost_usd as {{ llmeter.type_usd() }}) as cache_read_cost_usd,
        cast(cache_write_5m_price_key as {{ dbt.type_string() }}) as cache_write_5m_price_key,
        cast(cache_write_5m_price_usd as {{ llmeter.type_price() }}) as cache_write_5m_price_usd,
        cast(cache_write_5m_cost_usd as {{ llmeter.type_usd() }}) as cache_write_5m_cost_usd,
        cast(cache_write_1h_price_key as {{ dbt.type_string() }}) as cache_write_1h_price_key,
        cast(cache_write_1h_price_usd as {{ llmeter.type_price() }}) as cache_write_1h_price_usd,
        cast(cache_write_1h_cost_usd as {{ llmeter.type_usd() }}) as cache_write_1h_cost_usd,
        cast(output_price_key as {{ dbt.type_string() }}) as output_price_key,
        cast(output_price_usd as {{ llmeter.type_price() }}) as output_price_usd,
        cast(output_cost_usd as {{ llmeter.type_usd() }}) as output_cost_usd,
        cast(web_search_request_price_key as {{ dbt.type_string() }}) as web_search_request_price_key,
        cast(web_search_request_price_usd as {{ llmeter.type_price() }}) as web_search_request_price_usd,
        cast(web_search_request_cost_usd as {{ llmeter.type_usd() }}) as web_search_request_cost_usd,
        cast(is_priced as {{ dbt.type_boolean() }}) as is_priced,
        cast(unpriced_reason as {{ dbt.type_string() }}) as unpriced_reason,
        cast(list_cost_usd as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(priced_at as {{ dbt.type_timestamp() }}) as priced_at
    from calls
)

select * from final
