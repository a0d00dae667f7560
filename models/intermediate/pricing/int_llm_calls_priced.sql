{#
    One row per tagged call, priced at the list price in force when it ran.

    Model: the call's model is resolved to a priced model in this order: the exact name, an
    alias of seeds/model_aliases.csv, the name without its date suffix, an alias of that name.
    NOTE: fine-tuned model names (`ft:gpt-4o-2024-08-06:org::id`) resolve by none of these and
    stay unpriced, while genai-prices matches them by prefix.

    Price: for each price component, the row of int_model_prices for the call's provider,
    priced model, component and service tier with valid_from_at <= occurred_at < valid_to_at
    and, among those, the highest long-context threshold the call's total input exceeds
    (`tier_threshold_tokens = 0` is the base rate), a contract price before a list price.
    Cost = tokens × price_usd × 0.000001 (per million tokens) or requests × price_usd × 0.001
    (per thousand requests), by multiplication only.

    A call is priced only when its model resolves and every component it used (quantity > 0)
    has a price; otherwise list_cost_usd is null, is_priced is false and unpriced_reason says
    why. A call is never priced at $0 for lack of a price.

    Incremental by event_id: each run re-prices the calls of the last
    `call_logs_lookback_days` UTC days before the latest day already priced (default 3), the
    calls loaded since the latest load already priced (late call logs of any day), and the
    days between the vars `rebuild_since_date` and `rebuild_until_date` that `llmeter run
    --since/--until` passes. Every row stores the fingerprint of the price list; the pre-hook
    deletes all rows when the fingerprint changed, so a changed seed re-prices the whole
    history, including calls loaded before their price row existed.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='fail',
    pre_hook="{{ llmeter.delete_rows_priced_with_old_prices(ref('int_price_list_fingerprint')) }}",
) }}

{%- set lookback_days = var('call_logs_lookback_days', 3) | int -%}
{%- set rebuild_since_date = var('rebuild_since_date', '') -%}
{%- set rebuild_until_date = var('rebuild_until_date', '') -%}

with

calls as (
    select
        event_id,
        occurred_at,
        usage_date,
        provider,
        model,
        customer_id,
        service_tier,
        sub_account_id,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        web_search_requests,
        requests,
        loaded_at
    from {{ ref('stg_call_logs__llm_calls') }}
    {% if is_incremental() %}
        where
            usage_date >= (
                select
                    coalesce(
                        cast({{ dbt.dateadd('day', -lookback_days, 'max(priced.usage_date)') }} as date),
                        cast('1900-01-01' as date)
                    )
                from {{ this }} as priced
            )
            or loaded_at > (
                select coalesce(max(priced.loaded_at), cast('1900-01-01' as timestamp))
                from {{ this }} as priced
            )
            {%- if rebuild_since_date or rebuild_until_date %}
                or usage_date between cast('{{ rebuild_since_date or "1900-01-01" }}' as date)
                and cast('{{ rebuild_until_date or "9999-12-31" }}' as date)
            {%- endif %}
    {% endif %}
),

prices as (
    select
        price_key,
        provider,
        model,
        price_component,
        service_tier,
        tier_threshold_tokens,
        price_usd,
        unit_scale,
        valid_from_at,
        valid_to_at,
        price_priority
    from {{ ref('int_model_prices') }}
),

aliases as (
    select
        provider,
        model,
        lower(alias) as model_alias
    from {{ ref('model_aliases') }}
),

fingerprint as (
    select price_list_fingerprint
    from {{ ref('int_price_list_fingerprint') }}
),

priced_models as (
    select distinct
        provider,
        model
    from prices
),

-- one row per provider and model name in this batch of calls
model_names as (
    select distinct
        provider,
        model,
        lower(model) as model_lower,
        lower({{ llmeter.strip_model_date_suffix('model') }}) as model_undated
    from calls
),

model_names_resolved as (
    select
        model_names.provider,
        model_names.model,
        coalesce(
            exact_match.model, alias_match.model, undated_match.model, undated_alias_match.model
        ) as priced_model,
        case
            when exact_match.model is not null then 'exact'
            when alias_match.model is not null then 'alias'
            when undated_match.model is not null then 'undated'
            when undated_alias_match.model is not null then 'undated_alias'
        end as model_match
    from model_names
    left join priced_models as exact_match
        on
            model_names.provider = exact_match.provider
            and model_names.model_lower = lower(exact_match.model)
    left join aliases as alias_match
        on
            model_names.provider = alias_match.provider
            and model_names.model_lower = alias_match.model_alias
    left join priced_models as undated_match
        on
            model_names.provider = undated_match.provider
            and model_names.model_undated = lower(undated_match.model)
    left join aliases as undated_alias_match
        on
            model_names.provider = undated_alias_match.provider
            and model_names.model_undated = undated_alias_match.model_alias
),

calls_resolved as (
    select
        calls.*,
        model_names_resolved.priced_model,
        model_names_resolved.model_match,
        calls.input_uncached_tokens
        + calls.cache_read_tokens
        + calls.cache_write_5m_tokens
        + calls.cache_write_1h_tokens as total_input_tokens
    from calls
    left join model_names_resolved
        on
            calls.provider = model_names_resolved.provider
            and calls.model = model_names_resolved.model
),

-- the smallest long-context threshold of the model's standard prices in force at the call
context_thresholds as (
    select
        calls_resolved.event_id,
        min(prices.tier_threshold_tokens) as long_context_threshold_tokens
    from calls_resolved
    inner join prices
        on
            calls_resolved.provider = prices.provider
            and calls_resolved.priced_model = prices.model
            and prices.service_tier = 'standard'
            and prices.tier_threshold_tokens > 0
            and calls_resolved.occurred_at >= prices.valid_from_at
            and (prices.valid_to_at is null or calls_resolved.occurred_at < prices.valid_to_at)
    group by calls_resolved.event_id
),

-- one row per call and price component
call_components as (
    {%- for component, quantity in [
        ('input_uncached', 'input_uncached_tokens'),
        ('cache_read', 'cache_read_tokens'),
        ('cache_write_5m', 'cache_write_5m_tokens'),
        ('cache_write_1h', 'cache_write_1h_tokens'),
        ('output', 'output_tokens'),
        ('web_search_request', 'web_search_requests'),
    ] %}
        select
            event_id,
            provider,
            priced_model,
            service_tier,
            occurred_at,
            total_input_tokens,
            '{{ component }}' as price_component,
            {{ quantity }} as quantity
        from calls_resolved
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

component_price_candidates as (
    select
        call_components.event_id,
        call_components.price_component,
        prices.price_key,
        prices.price_usd,
        prices.unit_scale,
        row_number() over (
            partition by call_components.event_id, call_components.price_component
            order by prices.price_priority desc, prices.tier_threshold_tokens desc
        ) as price_rank
    from call_components
    inner join prices
        on
            call_components.provider = prices.provider
            and call_components.priced_model = prices.model
            and call_components.price_component = prices.price_component
            and call_components.service_tier = prices.service_tier
            and call_components.occurred_at >= prices.valid_from_at
            and (prices.valid_to_at is null or call_components.occurred_at < prices.valid_to_at)
            and (
                prices.tier_threshold_tokens = 0
                or call_components.total_input_tokens > prices.tier_threshold_tokens
            )
),

component_costs as (
    select
        call_components.event_id,
        call_components.price_component,
        call_components.quantity,
        component_price_candidates.price_key,
        component_price_candidates.price_usd,
        cast(
            -- the price per token or request first, so that the product keeps 20 integer
            -- digits for any BIGINT count
            cast(call_components.quantity as decimal(38, 0))
            * cast(
                component_price_candidates.price_usd * component_price_candidates.unit_scale
                as decimal(38, 18)
            )
            as {{ llmeter.type_usd() }}
        ) as cost_usd
    from call_components
    left join component_price_candidates
        on
            call_components.event_id = component_price_candidates.event_id
            and call_components.price_component = component_price_candidates.price_component
            and component_price_candidates.price_rank = 1
),

call_costs as (
    select
        event_id,
        {%- for component in [
            'input_uncached', 'cache_read', 'cache_write_5m', 'cache_write_1h', 'output',
            'web_search_request',
        ] %}
            max(case when price_component = '{{ component }}' then price_key end)
                as {{ component }}_price_key,
            max(case when price_component = '{{ component }}' then price_usd end)
                as {{ component }}_price_usd,
            sum(case when price_component = '{{ component }}' then cost_usd end)
                as {{ component }}_cost_usd,
        {%- endfor %}
        sum(coalesce(cost_usd, 0)) as components_cost_usd,
        {{ dbt.listagg(
            "case when quantity > 0 and price_key is null then price_component end",
            "', '",
            "order by price_component",
        ) }} as unpriced_components
    from component_costs
    group by event_id
),

final as (
    select
        calls_resolved.event_id,
        calls_resolved.occurred_at,
        calls_resolved.usage_date,
        calls_resolved.provider,
        calls_resolved.model,
        calls_resolved.priced_model,
        calls_resolved.model_match,
        calls_resolved.customer_id,
        calls_resolved.service_tier,
        case
            when
                calls_resolved.total_input_tokens
                > context_thresholds.long_context_threshold_tokens
                then 'long'
            else 'standard'
        end as context_tier,
        calls_resolved.sub_account_id,
        calls_resolved.input_uncached_tokens,
        calls_resolved.cache_read_tokens,
        calls_resolved.cache_write_5m_tokens,
        calls_resolved.cache_write_1h_tokens,
        calls_resolved.output_tokens,
        calls_resolved.reasoning_tokens,
        calls_resolved.web_search_requests,
        calls_resolved.requests,
        calls_resolved.total_input_tokens,
        {%- for component in [
            'input_uncached', 'cache_read', 'cache_write_5m', 'cache_write_1h', 'output',
            'web_search_request',
        ] %}
            call_costs.{{ component }}_price_key,
            call_costs.{{ component }}_price_usd,
            call_costs.{{ component }}_cost_usd,
        {%- endfor %}
        calls_resolved.priced_model is not null
        and call_costs.unpriced_components is null as is_priced,
        case
            when calls_resolved.priced_model is null then 'unknown model'
            when call_costs.unpriced_components is not null
                then
                    'no ' || calls_resolved.service_tier || ' price for '
                    || call_costs.unpriced_components
        end as unpriced_reason,
        case
            when calls_resolved.priced_model is not null and call_costs.unpriced_components is null
                then call_costs.components_cost_usd
        end as list_cost_usd,
        fingerprint.price_list_fingerprint,
        calls_resolved.loaded_at
    from calls_resolved
    inner join call_costs
        on calls_resolved.event_id = call_costs.event_id
    left join context_thresholds
        on calls_resolved.event_id = context_thresholds.event_id
    cross join fingerprint
)

select * from final
