{#
    Every price the pricing step can use, one row per provider, model, price component, service
    tier, long-context threshold, validity period and price source:

    - `list`: the rows of seeds/model_prices.csv, generated from genai-prices;
    - `multiplier`: a service tier that the list prices of a model do not name at all gets the
      model's standard list prices times the provider's multiplier in
      seeds/service_tier_multipliers.csv (Batch API 50%); web search requests keep the standard
      price, because the providers discount tokens, not tool calls. A service tier with neither
      list prices nor a multiplier has no rows, so its calls stay unpriced;
    - `contract`: negotiated prices of seeds/contract_prices.csv. They apply at every context
      length and take precedence over the other two (`price_priority`).
#}

with

list_prices as (
    select
        provider,
        model,
        price_component,
        service_tier,
        tier_threshold_tokens,
        price_usd,
        unit,
        valid_from_at,
        valid_to_at,
        source
    from {{ ref('model_prices') }}
),

multipliers as (
    select
        provider,
        service_tier,
        multiplier,
        source
    from {{ ref('service_tier_multipliers') }}
),

contract_prices as (
    select
        provider,
        model,
        price_component,
        service_tier,
        price_usd,
        unit,
        valid_from_at,
        valid_to_at,
        note
    from {{ ref('contract_prices') }}
),

-- one row per model and service tier that the list prices name explicitly
listed_tiers as (
    select distinct
        provider,
        model,
        service_tier
    from list_prices
),

derived_prices as (
    select
        list_prices.provider,
        list_prices.model,
        list_prices.price_component,
        multipliers.service_tier,
        list_prices.tier_threshold_tokens,
        cast(
            list_prices.price_usd
            * case
                when list_prices.price_component = 'web_search_request' then 1
                else multipliers.multiplier
            end
            as {{ llmeter.type_price() }}
        ) as price_usd,
        list_prices.unit,
        list_prices.valid_from_at,
        list_prices.valid_to_at,
        case
            when list_prices.price_component = 'web_search_request'
                then 'standard price, tool calls are not discounted; ' || list_prices.source
            else
                'standard price × ' || cast(multipliers.multiplier as {{ dbt.type_string() }})
                || ' (' || multipliers.source || '); ' || list_prices.source
        end as price_origin,
        case
            when list_prices.price_component = 'web_search_request' then 1
            else multipliers.multiplier
        end as multiplier
    from list_prices
    inner join multipliers
        on list_prices.provider = multipliers.provider
    left join listed_tiers
        on
            list_prices.provider = listed_tiers.provider
            and list_prices.model = listed_tiers.model
            and multipliers.service_tier = listed_tiers.service_tier
    where
        list_prices.service_tier = 'standard'
        and listed_tiers.model is null
),

all_prices as (
    select
        provider,
        model,
        price_component,
        service_tier,
        tier_threshold_tokens,
        price_usd,
        unit,
        valid_from_at,
        valid_to_at,
        'list' as price_source,
        1 as price_priority,
        cast(null as {{ llmeter.type_price() }}) as multiplier,
        source as price_origin
    from list_prices

    union all

    select
        provider,
        model,
        price_component,
        service_tier,
        tier_threshold_tokens,
        price_usd,
        unit,
        valid_from_at,
        valid_to_at,
        'multiplier' as price_source,
        1 as price_priority,
        cast(multiplier as {{ llmeter.type_price() }}) as multiplier,
        price_origin
    from derived_prices

    union all

    select
        provider,
        model,
        price_component,
        service_tier,
        0 as tier_threshold_tokens,
        price_usd,
        unit,
        valid_from_at,
        valid_to_at,
        'contract' as price_source,
        2 as price_priority,
        cast(null as {{ llmeter.type_price() }}) as multiplier,
        'contract: ' || coalesce(note, '') as price_origin
    from contract_prices
),

final as (
    select
        {{ llmeter.surrogate_key([
            'provider', 'model', 'price_component', 'service_tier', 'tier_threshold_tokens',
            'valid_from_at', 'price_source',
        ]) }} as price_key,
        provider,
        model,
        price_component,
        service_tier,
        tier_threshold_tokens,
        cast(price_usd as {{ llmeter.type_price() }}) as price_usd,
        unit,
        cast(
            case
                when unit = 'per_million_tokens' then 0.000001
                when unit = 'per_thousand_requests' then 0.001
            end
            as decimal(7, 6)
        ) as unit_scale,
        valid_from_at,
        valid_to_at,
        price_source,
        price_priority,
        multiplier,
        price_origin
    from all_prices
)

select * from final
