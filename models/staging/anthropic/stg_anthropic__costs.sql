{#
    Anthropic's cost report states amounts as decimal strings in US cents; they become US
    dollars here, by multiplying (`cents_to_usd`). The price component comes from the report's
    parsed fields (`cost_type`, `token_type`), never from the free-text description. A row
    whose fields match none of the known values keeps `price_component = 'other'` with
    `is_line_item_parsed = false`.
#}

with source as (
    select
        bucket_start_at,
        workspace_id,
        description,
        cost_type,
        token_type,
        model,
        service_tier,
        context_window,
        inference_geo,
        amount,
        currency,
        extracted_at
    from {{ llmeter.source_or_empty('anthropic', 'cost_report') }}
),

renamed as (
    select
        {{ llmeter.utc_date('bucket_start_at') }} as usage_date,
        {{ llmeter.utc_timestamp('bucket_start_at') }} as bucket_start_at,
        coalesce(workspace_id, '(default)') as workspace_id,
        coalesce(description, '(not grouped)') as line_item,
        cost_type,
        token_type,
        coalesce(model, '(no model)') as model,
        service_tier as provider_service_tier,
        context_window,
        inference_geo,
        {{ llmeter.cents_to_usd('amount') }} as billed_cost_usd,
        currency,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
),

components as (
    select
        *,
        case
            when cost_type = 'web_search' then 'web_search_request'
            when cost_type <> 'tokens' then 'other'
            when token_type = 'uncached_input_tokens' then 'input_uncached'
            when token_type = 'cache_read_input_tokens' then 'cache_read'
            when token_type = 'cache_creation.ephemeral_5m_input_tokens' then 'cache_write_5m'
            when token_type = 'cache_creation.ephemeral_1h_input_tokens' then 'cache_write_1h'
            when token_type = 'output_tokens' then 'output'
            else 'other'
        end as price_component,
        case
            when provider_service_tier is null then 'standard'
            when provider_service_tier = 'priority_on_demand' then 'priority'
            when provider_service_tier = 'flex_discount' then 'flex'
            else provider_service_tier
        end as service_tier,
        case when context_window = '200k-1M' then 'long' else 'standard' end as context_tier,
        coalesce(
            cost_type in ('web_search', 'code_execution', 'session_usage')
            or (
                cost_type = 'tokens'
                and token_type in (
                    'uncached_input_tokens',
                    'cache_read_input_tokens',
                    'cache_creation.ephemeral_5m_input_tokens',
                    'cache_creation.ephemeral_1h_input_tokens',
                    'output_tokens'
                )
            ),
            false
        ) as is_line_item_parsed
    from renamed
),

final as (
    select
        usage_date,
        bucket_start_at,
        workspace_id,
        line_item,
        model,
        price_component,
        service_tier,
        provider_service_tier,
        context_tier,
        context_window,
        cost_type,
        token_type,
        inference_geo,
        is_line_item_parsed,
        billed_cost_usd,
        currency,
        extracted_at
    from components
)

select * from final
