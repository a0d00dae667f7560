{#
    The cost both providers bill, in one shape with the grain of `int_provider_usage_daily`
    plus the provider's line item: two line items can map to the same key (two unparsed
    charges of one sub-account are both `other`), so the line item is part of the key.

    Caveats:
    - OpenAI cost line items carry `long context`, but OpenAI usage cannot separate it; see
      `int_provider_usage_daily`.
    - Anthropic's cost report has no quantities and leaves out Priority Tier costs.
#}

with openai_costs as (
    select
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        project_id,
        line_item,
        is_line_item_parsed,
        billed_cost_usd,
        quantity,
        quantity_unit
    from {{ ref('stg_openai__costs') }}
),

anthropic_costs as (
    select
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        workspace_id,
        line_item,
        is_line_item_parsed,
        billed_cost_usd
    from {{ ref('stg_anthropic__costs') }}
),

unioned as (
    select
        'openai' as provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        project_id as sub_account_id,
        line_item,
        is_line_item_parsed,
        billed_cost_usd,
        quantity,
        quantity_unit
    from openai_costs
    union all
    select
        'anthropic' as provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        workspace_id as sub_account_id,
        line_item,
        is_line_item_parsed,
        billed_cost_usd,
        cast(null as decimal(38, 18)) as quantity,
        cast(null as {{ dbt.type_string() }}) as quantity_unit
    from anthropic_costs
),

aggregated as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        line_item,
        quantity_unit,
        not {{ dbt.bool_or('not is_line_item_parsed') }} as is_line_item_parsed,
        cast(sum(billed_cost_usd) as {{ llmeter.type_usd() }}) as billed_cost_usd,
        sum(quantity) as quantity
    from unioned
    group by
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        line_item,
        quantity_unit
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
        line_item,
        is_line_item_parsed,
        billed_cost_usd,
        quantity,
        quantity_unit
    from aggregated
)

select * from final
