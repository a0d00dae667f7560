{#
    The LLM cost of each customer in the FinOps FOCUS 1.2 cost and usage shape, so FinOps tools
    can read it next to cloud bills: one row per customer (or `(unattributed)`), UTC day,
    provider, model, price component, service tier and sub-account. The column names are the
    ones FOCUS 1.2 fixes (PascalCase), an exception to the project's snake_case names, and
    LLMeter's own columns carry FOCUS's `x_` prefix.

    Two sources, as in fct_customer_daily_costs:
    - a provider-day with billed cost (int_provider_costs_daily has rows for it): BilledCost is
      the recipient's share of the billed cost per price component (int_costs_allocated),
      exact to the pico-dollar. A customer's calls in a grain the provider billed nothing for
      keep their row, with BilledCost 0;
    - any other provider-day: BilledCost is the list cost of the customer's priced calls
      (fct_llm_calls), and calls without a price add their quantity but no cost.
    Either way BilledCost per provider and day adds up to the allocated cost of
    fct_customer_daily_costs. ListCost and the unit price come from the calls, summed per day
    in int_call_components_daily.
#}

-- FOCUS column names are case-sensitive PascalCase, so they stay quoted and RF06 is off.
-- noqa: disable=RF06

{%- set grain = [
    'customer_id', 'usage_date', 'provider', 'model', 'price_component', 'service_tier',
    'sub_account_id',
] %}

with call_components as (
    select
        customer_id,
        usage_date,
        provider,
        model,
        price_component,
        service_tier,
        sub_account_id,
        quantity,
        priced_calls_list_cost_usd,
        min_price_key,
        max_price_key,
        min_price_usd,
        max_price_usd,
        priced_model
    from {{ ref('int_call_components_daily') }}
),

allocations as (
    select
        customer_id,
        is_unattributed,
        usage_date,
        provider,
        recipient_model,
        price_component,
        service_tier,
        sub_account_id,
        quantity,
        allocated_cost_usd
    from {{ ref('int_costs_allocated') }}
),

billed_days as (
    select distinct
        provider,
        usage_date
    from {{ ref('int_provider_costs_daily') }}
),

call_grains as (
    select
        {{ grain | join(',\n        ') }},
        sum(quantity) as quantity,
        sum(priced_calls_list_cost_usd) as list_cost_usd
    from call_components
    group by {{ grain | join(', ') }}
),

-- the unit price of a provider-day's model, component and service tier, where all calls agree
unit_prices as (
    select
        usage_date,
        provider,
        model,
        price_component,
        service_tier,
        case when min(min_price_key) = max(max_price_key) then min(min_price_key) end as price_key,
        case when min(min_price_usd) = max(max_price_usd) then min(min_price_usd) end as price_usd
    from call_components
    group by usage_date, provider, model, price_component, service_tier
),

priced_model_names as (
    select
        provider,
        model,
        min(priced_model) as priced_model
    from call_components
    where priced_model is not null
    group by provider, model
),

allocation_grains as (
    select
        customer_id,
        usage_date,
        provider,
        recipient_model as model,
        price_component,
        service_tier,
        sub_account_id,
        {{ dbt.bool_or('is_unattributed') }} as is_unattributed,
        sum(quantity) as quantity,
        sum(allocated_cost_usd) as billed_cost_usd
    from allocations
    group by
        customer_id,
        usage_date,
        provider,
        recipient_model,
        price_component,
        service_tier,
        sub_account_id
),

-- billed provider-days take the allocation, plus the calls the provider billed nothing for
billed_rows as (
    select
        {%- for column in grain %}
            coalesce(allocation_grains.{{ column }}, call_grains.{{ column }}) as {{ column }},
        {%- endfor %}
        coalesce(allocation_grains.is_unattributed, false) as is_unattributed,
        coalesce(allocation_grains.quantity, call_grains.quantity) as quantity,
        coalesce(allocation_grains.billed_cost_usd, 0) as billed_cost_usd,
        call_grains.list_cost_usd,
        'billed' as cost_basis
    from allocation_grains
    full outer join call_grains
        on
            allocation_grains.customer_id = call_grains.customer_id
            and allocation_grains.usage_date = call_grains.usage_date
            and allocation_grains.provider = call_grains.provider
            and allocation_grains.model = call_grains.model
            and allocation_grains.price_component = call_grains.price_component
            and allocation_grains.service_tier = call_grains.service_tier
            and allocation_grains.sub_account_id = call_grains.sub_account_id
    inner join billed_days
        on
            coalesce(allocation_grains.provider, call_grains.provider) = billed_days.provider
            and coalesce(allocation_grains.usage_date, call_grains.usage_date) = billed_days.usage_date
),

estimated_rows as (
    select
        {%- for column in grain %}
            call_grains.{{ column }},
        {%- endfor %}
        false as is_unattributed,
        call_grains.quantity,
        coalesce(call_grains.list_cost_usd, 0) as billed_cost_usd,
        call_grains.list_cost_usd,
        'list_estimate' as cost_basis
    from call_grains
    left join billed_days
        on
            call_grains.provider = billed_days.provider
            and call_grains.usage_date = billed_days.usage_date
    where billed_days.provider is null
),

all_rows as (
    select * from billed_rows
    union all
    select * from estimated_rows
),

described_rows as (
    select
        all_rows.*,
        unit_prices.price_key,
        unit_prices.price_usd,
        coalesce(priced_model_names.priced_model, all_rows.model) as priced_model,
        case
            when all_rows.price_component = 'web_search_request' then 'Requests'
            when all_rows.price_component <> 'other' then 'Tokens'
        end as consumed_unit,
        case all_rows.provider
            when 'openai' then 'OpenAI'
            when 'anthropic' then 'Anthropic'
            when 'google' then 'Google'
            else all_rows.provider
        end as provider_name,
        case all_rows.provider
            when 'openai' then 'OpenAI API'
            when 'anthropic' then 'Claude API'
            when 'google' then 'Gemini API'
            else all_rows.provider
        end as service_name
    from all_rows
    left join priced_model_names
        on
            all_rows.provider = priced_model_names.provider
            and all_rows.model = priced_model_names.model
    left join unit_prices
        on
            all_rows.usage_date = unit_prices.usage_date
            and all_rows.provider = unit_prices.provider
            and all_rows.model = unit_prices.model
            and all_rows.price_component = unit_prices.price_component
            and all_rows.service_tier = unit_prices.service_tier
),

final as (
    select
        cast(billed_cost_usd as {{ llmeter.type_usd() }}) as "BilledCost",
        provider as "BillingAccountId",
        provider_name as "BillingAccountName",
        'Organization' as "BillingAccountType",
        'USD' as "BillingCurrency",
        cast(
            {{ dbt.dateadd('month', 1, dbt.date_trunc('month', 'usage_date')) }}
            as {{ dbt.type_timestamp() }}
        ) as "BillingPeriodEnd",
        cast({{ dbt.date_trunc('month', 'usage_date') }} as {{ dbt.type_timestamp() }}) as "BillingPeriodStart",
        'Usage' as "ChargeCategory",
        cast(null as {{ dbt.type_string() }}) as "ChargeClass",
        {{ dbt.concat([
            'priced_model', "' '", 'price_component', "' ('", 'service_tier', "') of '", 'customer_id',
        ]) }} as "ChargeDescription",
        'Usage-Based' as "ChargeFrequency",
        cast({{ dbt.dateadd('day', 1, 'usage_date') }} as {{ dbt.type_timestamp() }}) as "ChargePeriodEnd",
        cast(usage_date as {{ dbt.type_timestamp() }}) as "ChargePeriodStart",
        case
            when consumed_unit is not null then cast(quantity as {{ llmeter.type_usd() }})
        end as "ConsumedQuantity",
        consumed_unit as "ConsumedUnit",
        cast(list_cost_usd as {{ llmeter.type_usd() }}) as "ContractedCost",
        cast(price_usd as {{ llmeter.type_price() }}) as "ContractedUnitPrice",
        cast(billed_cost_usd as {{ llmeter.type_usd() }}) as "EffectiveCost",
        provider_name as "InvoiceIssuerName",
        cast(list_cost_usd as {{ llmeter.type_usd() }}) as "ListCost",
        cast(price_usd as {{ llmeter.type_price() }}) as "ListUnitPrice",
        case when consumed_unit is not null then 'Standard' end as "PricingCategory",
        'USD' as "PricingCurrency",
        cast(
            case
                when consumed_unit = 'Requests' then cast(quantity as {{ llmeter.type_usd() }}) * 0.001
                when consumed_unit = 'Tokens' then cast(quantity as {{ llmeter.type_usd() }}) * 0.000001
            end
            as {{ llmeter.type_usd() }}
        ) as "PricingQuantity",
        case consumed_unit
            when 'Tokens' then '1000000 Tokens'
            when 'Requests' then '1000 Requests'
        end as "PricingUnit",
        provider_name as "ProviderName",
        provider_name as "PublisherName",
        'AI and Machine Learning' as "ServiceCategory",
        service_name as "ServiceName",
        'Generative AI' as "ServiceSubcategory",
        {{ dbt.concat(['provider', "'/'", 'priced_model', "'/'", 'price_component']) }} as "SkuId",
        price_component as "SkuMeter",
        price_key as "SkuPriceId",
        sub_account_id as "SubAccountId",
        cast(null as {{ dbt.type_string() }}) as "SubAccountName",
        customer_id as "x_CustomerId",
        is_unattributed as "x_IsUnattributed",
        cost_basis as "x_CostBasis",
        usage_date as "x_UsageDate",
        provider as "x_Provider",
        model as "x_Model",
        priced_model as "x_PricedModel",
        price_component as "x_PriceComponent",
        service_tier as "x_ServiceTier"
    from described_rows
)

select * from final
