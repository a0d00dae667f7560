{#
    Anthropic's usage report already counts input in the canonical classes: its
    `uncached_input_tokens` excludes cache reads and writes, and cache writes come split by
    time-to-live. Nulls that the report uses for real values get the reserved identifiers:
    `(default)` for the default workspace and `(no key)` for Console Workbench usage, which has
    no API key.
#}

with source as (
    select
        bucket_start_at,
        model,
        api_key_id,
        workspace_id,
        service_tier,
        context_window,
        inference_geo,
        uncached_input_tokens,
        cache_read_input_tokens,
        cache_creation__ephemeral_5m_input_tokens,
        cache_creation__ephemeral_1h_input_tokens,
        output_tokens,
        server_tool_use__web_search_requests,
        extracted_at
    from {{ llmeter.source_or_empty('anthropic', 'usage_messages') }}
),

renamed as (
    select
        {{ llmeter.utc_date('bucket_start_at') }} as usage_date,
        {{ llmeter.utc_timestamp('bucket_start_at') }} as bucket_start_at,
        coalesce(model, '(not grouped)') as model,
        coalesce(api_key_id, '(no key)') as api_key_id,
        coalesce(workspace_id, '(default)') as workspace_id,
        service_tier as provider_service_tier,
        context_window,
        inference_geo,
        coalesce(uncached_input_tokens, 0) as input_uncached_tokens,
        coalesce(cache_read_input_tokens, 0) as cache_read_tokens,
        coalesce(cache_creation__ephemeral_5m_input_tokens, 0) as cache_write_5m_tokens,
        coalesce(cache_creation__ephemeral_1h_input_tokens, 0) as cache_write_1h_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(server_tool_use__web_search_requests, 0) as web_search_requests,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
),

tiers as (
    select
        *,
        case
            when provider_service_tier is null then 'standard'
            when provider_service_tier = 'priority_on_demand' then 'priority'
            when provider_service_tier = 'flex_discount' then 'flex'
            else provider_service_tier
        end as service_tier,
        case when context_window = '200k-1M' then 'long' else 'standard' end as context_tier
    from renamed
),

final as (
    select
        usage_date,
        bucket_start_at,
        model,
        api_key_id,
        workspace_id,
        service_tier,
        provider_service_tier,
        context_tier,
        context_window,
        inference_geo,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        web_search_requests,
        extracted_at
    from tiers
)

select * from final
