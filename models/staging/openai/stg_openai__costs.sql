{#
    OpenAI reports costs as JSON numbers in US dollars; the loader keeps them exact as
    DECIMAL(38, 18). The free-text line item names the model and the charge
    (`gpt-4.1-mini-2025-04-14, cached input`, `priority | gpt-5.6, output, long context`), and
    `parse_openai_line_item` turns it into the provider grain. A line item it cannot parse stays,
    with `price_component = 'other'` and `is_line_item_parsed = false`.
#}

with source as (
    select
        bucket_start_at,
        project_id,
        line_item,
        amount__value,
        amount__currency,
        quantity,
        quantity_unit,
        extracted_at
    from {{ llmeter.source_or_empty('openai', 'costs') }}
),

renamed as (
    select
        {{ llmeter.utc_date('bucket_start_at') }} as usage_date,
        {{ llmeter.utc_timestamp('bucket_start_at') }} as bucket_start_at,
        coalesce(project_id, '(not grouped)') as project_id,
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
