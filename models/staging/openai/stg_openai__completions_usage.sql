{#
    OpenAI's usage API counts every input token in `input_tokens`, cached and cache-write tokens
    included. The canonical classes split it once, here: `input_uncached_tokens` is OpenAI's own
    field where the response has it, and input minus cache reads and cache writes for older
    responses that lack it. OpenAI's cache writes have no time-to-live and count as 5-minute
    writes. `output_tokens` includes reasoning tokens, which the usage API does not break out.
#}

with source as (
    select
        bucket_start_at,
        project_id,
        user_id,
        api_key_id,
        model,
        batch,
        service_tier,
        input_tokens,
        input_cached_tokens,
        input_cache_write_tokens,
        input_uncached_tokens,
        output_tokens,
        num_model_requests,
        extracted_at
    from {{ llmeter.source_or_empty('openai', 'usage_completions') }}
),

renamed as (
    select
        {{ llmeter.utc_date('bucket_start_at') }} as usage_date,
        {{ llmeter.utc_timestamp('bucket_start_at') }} as bucket_start_at,
        coalesce(project_id, '(not grouped)') as project_id,
        coalesce(user_id, '(not grouped)') as user_id,
        coalesce(api_key_id, '(not grouped)') as api_key_id,
        coalesce(model, '(not grouped)') as model,
        coalesce(batch, false) as is_batch,
        service_tier as provider_service_tier,
        coalesce(input_tokens, 0) as input_tokens,
        coalesce(input_cached_tokens, 0) as cache_read_tokens,
        coalesce(input_cache_write_tokens, 0) as cache_write_5m_tokens,
        input_uncached_tokens as reported_input_uncached_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(num_model_requests, 0) as requests,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
),

token_classes as (
    select
        *,
        coalesce(
            reported_input_uncached_tokens,
            input_tokens - cache_read_tokens - cache_write_5m_tokens
        ) as input_uncached_tokens,
        case
            when is_batch then 'batch'
            when provider_service_tier is null then 'standard'
            when provider_service_tier in ('default', 'auto') then 'standard'
            else provider_service_tier
        end as service_tier
    from renamed
),

final as (
    select
        usage_date,
        bucket_start_at,
        project_id,
        user_id,
        api_key_id,
        model,
        is_batch,
        service_tier,
        provider_service_tier,
        input_tokens,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        output_tokens,
        requests,
        extracted_at
    from token_classes
)

select * from final
