{#
    One row per provider, UTC day, model (as the provider named it), price component, service
    tier, context tier, sub-account and customer: the quantity the customer's tagged calls used
    and its list cost. This is the call side of the provider grain that the allocation matches
    to the provider's usage report and billed cost. Only components with a quantity above zero
    have rows. The price columns let fct_focus_llm_costs state unit prices without reading the
    calls again.

    Incremental by UTC day: a run rebuilds the days of the calls priced since this model's last
    build (macro days_priced_since_last_build).
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='usage_date',
    on_schema_change='fail',
) }}

{%- set component_quantities = llmeter.price_component_columns() %}

with

calls as (
    select
        provider,
        usage_date,
        model,
        priced_model,
        service_tier,
        context_tier,
        sub_account_id,
        customer_id,
        {%- for component, quantity in component_quantities %}
            {{ quantity }},
            {{ component }}_price_key,
            {{ component }}_price_usd,
            {{ component }}_cost_usd,
        {%- endfor %}
        is_priced,
        priced_at
    from {{ ref('int_llm_calls_priced') }}
    where {{ llmeter.days_priced_since_last_build(ref('int_llm_calls_priced')) }}
),

price_components as (
    {%- for component, quantity in component_quantities %}
        select '{{ component }}' as price_component
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

-- one row per call and price component: a single scan of the calls, which a union of one
-- select per component would repeat six times
call_components as (
    select
        calls.provider,
        calls.usage_date,
        calls.model,
        calls.priced_model,
        price_components.price_component,
        calls.service_tier,
        calls.context_tier,
        calls.sub_account_id,
        calls.customer_id,
        {%- for column, suffix in [
            ('quantity', ''),
            ('list_cost_usd', '_cost_usd'),
            ('price_key', '_price_key'),
            ('price_usd', '_price_usd'),
        ] %}
            case price_components.price_component
                {%- for component, quantity in component_quantities %}
                    when '{{ component }}' then calls.{{ quantity if column == 'quantity' else component ~ suffix }}
                {%- endfor %}
            end as {{ column }},
        {%- endfor %}
        calls.is_priced,
        calls.priced_at
    from calls
    cross join price_components
),

used_call_components as (
    select *
    from call_components
    where quantity > 0
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
        cast(
            sum(case when is_priced then list_cost_usd end) as {{ llmeter.type_usd() }}
        ) as priced_calls_list_cost_usd,
        cast(count(*) as {{ dbt.type_bigint() }}) as calls,
        cast(sum(case when is_priced then 0 else 1 end) as {{ dbt.type_bigint() }}) as unpriced_calls,
        min(price_key) as min_price_key,
        max(price_key) as max_price_key,
        min(price_usd) as min_price_usd,
        max(price_usd) as max_price_usd,
        min(priced_model) as priced_model,
        max(priced_at) as priced_at
    from used_call_components
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
