{#
    The same costs as `stg_openai__costs`, also grouped by API key. OpenAI serves this grouping
    only for windows from 2025-12-06 on, so earlier days have no rows here.
#}

with source as (
    select
        bucket_start_at,
        project_id,
        api_key_id,
        line_item,
        amount__value,
        amount__currency,
        quantity,
        quantity_unit,
        extracted_at
    from {{ llmeter.source_or_empty('openai', 'costs_by_api_key') }}
),

renamed as (
    select
        {{ llmeter.utc_date('bucket_start_at') }} as usage_date,
        {{ llmeter.utc_timestamp('bucket_start_at') }} as bucket_start_at,
        coalesce(project_id, '(not grouped)') as project_id,
        coalesce(api_key_id, '(not grouped)') as api_key_id,
        coalesce(line_item, '(not grouped)') as line_item,
        cast(amount__value as {{ llmeter.type_usd() }}) as billed_cost_usd,
        upper(amount__currency) as currency,
        quantity,
        quantity_unit,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
),

parsed as (
    {{ llmeter.parse_openai_line_item('renamed', 'line_item') }}
),

final as (
    select
        usage_date,
        bucket_start_at,
        project_id,
        api_key_id,
        line_item,
        model,
        price_component,
        service_tier,
        context_tier,
        is_parsed as is_line_item_parsed,
        billed_cost_usd,
        currency,
        quantity,
        quantity_unit,
        extracted_at
    from parsed
)

select * from final
