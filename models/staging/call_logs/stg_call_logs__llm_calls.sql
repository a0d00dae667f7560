{#
    The call logs already count tokens in the canonical classes, because the SDK converts each
    provider's usage object before it writes a record. This model adds the canonical service
    tier and the provider's sub-account, in the same vocabulary as the provider usage models,
    so that priced calls can be compared with the providers' own reports.
#}

with source as (
    select
        event_id,
        occurred_at,
        provider,
        model,
        customer_id,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        web_search_requests,
        request_id,
        service_tier,
        is_batch,
        project_id,
        workspace_id,
        api_key_id,
        tags,
        latency_ms,
        status,
        source_file,
        source_line,
        loaded_at
    from {{ llmeter.source_or_empty('call_logs', 'llm_calls') }}
),

tiers as (
    select
        *,
        coalesce(service_tier, 'standard') as provider_service_tier,
        case
            when is_batch then 'batch'
            when service_tier is null then 'standard'
            when provider = 'openai' and service_tier in ('default', 'auto') then 'standard'
            when provider = 'anthropic' and service_tier = 'priority_on_demand' then 'priority'
            when provider = 'anthropic' and service_tier = 'flex_discount' then 'flex'
            else service_tier
        end as canonical_service_tier
    from source
),

-- the OpenAI project or the Anthropic workspace, named as in int_provider_usage_daily
sub_accounts as (
    select
        *,
        case
            when provider = 'openai' then coalesce(project_id, '(not grouped)')
            when provider = 'anthropic' then coalesce(workspace_id, '(default)')
            else '(not grouped)'
        end as sub_account_id
    from tiers
),

final as (
    select
        event_id,
        {{ llmeter.utc_timestamp('occurred_at') }} as occurred_at,
        {{ llmeter.utc_date('occurred_at') }} as usage_date,
        provider,
        model,
        customer_id,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        web_search_requests,
        cast(1 as bigint) as requests,
        provider_service_tier,
        canonical_service_tier as service_tier,
        is_batch,
        sub_account_id,
        project_id,
        workspace_id,
        api_key_id,
        cast(tags as json) as tags,
        latency_ms,
        status,
        request_id,
        source_file,
        source_line,
        {{ llmeter.utc_timestamp('loaded_at') }} as loaded_at
    from sub_accounts
)

select * from final
