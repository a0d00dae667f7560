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
    `call_logs_lookback_days` UTC days (default 3) before the latest day already priced that is
    not after the as-of date, the calls loaded since the latest load already priced (late call
    logs of any day), and the days between the vars `rebuild_since_date` and `rebuild_until_date` that `llmeter run
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
{%- set component_quantities = llmeter.price_component_columns() -%}
{%- set components = component_quantities | map('first') | list -%}

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
                -- a call dated after the as-of date (a client clock ahead, or a run as of an
                -- earlier day) must not move the look-back past the days providers restate
                where priced.usage_date <= {{ llmeter.as_of_date() }}
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

-- each provider, priced model and service tier that this batch of calls uses
call_rate_keys as (
    select distinct
        provider,
        priced_model,
        service_tier
    from calls_resolved
    where priced_model is not null
),

-- every instant at which one of the model's prices starts or stops applying
price_boundaries as (
    select
        provider,
        model,
        valid_from_at as boundary_at
    from prices
    union
    select
        provider,
        model,
        valid_to_at as boundary_at
    from prices
    where valid_to_at is not null
),

-- the periods between consecutive boundaries, in which the model's prices do not change
price_periods as (
    select
        provider,
        model,
        boundary_at as period_from_at,
        coalesce(
            lead(boundary_at) over (partition by provider, model order by boundary_at),
            cast('9999-12-31' as timestamp)
        ) as period_to_at
    from price_boundaries
),

-- the long-context thresholds of the prices in force in each period, of any tier
period_thresholds as (
    select
        price_periods.provider,
        price_periods.model,
        price_periods.period_from_at,
        price_periods.period_to_at,
        prices.service_tier,
        prices.tier_threshold_tokens
    from price_periods
    inner join prices
        on
            price_periods.provider = prices.provider
            and price_periods.model = prices.model
            and price_periods.period_from_at >= prices.valid_from_at
            and (prices.valid_to_at is null or price_periods.period_from_at < prices.valid_to_at)
            and prices.tier_threshold_tokens > 0
),

-- the total input above which a call of the period counts as long context
period_context_thresholds as (
    select
        provider,
        model,
        period_from_at,
        min(tier_threshold_tokens) as long_context_threshold_tokens
    from period_thresholds
    where service_tier = 'standard'
    group by provider, model, period_from_at
),

-- the lower bounds of the period's context bands: -1 (any input) and each threshold
band_floors as (
    select distinct
        provider,
        model,
        period_from_at,
        period_to_at,
        tier_threshold_tokens as band_above_tokens
    from period_thresholds
    union
    select
        provider,
        model,
        period_from_at,
        period_to_at,
        -1 as band_above_tokens
    from price_periods
),

-- total input in (band_above_tokens, band_up_to_tokens]: the same prices apply to every call
context_bands as (
    select
        provider,
        model,
        period_from_at,
        period_to_at,
        band_above_tokens,
        coalesce(
            lead(band_above_tokens) over (
                partition by provider, model, period_from_at order by band_above_tokens
            ),
            -- the largest BIGINT: the top band has no upper bound
            cast(9223372036854775807 as {{ dbt.type_bigint() }})
        ) as band_up_to_tokens
    from band_floors
),

-- one rate card per key of this batch, period and context band
rate_cards as (
    select
        call_rate_keys.provider,
        call_rate_keys.priced_model,
        call_rate_keys.service_tier,
        context_bands.period_from_at,
        context_bands.period_to_at,
        context_bands.band_above_tokens,
        context_bands.band_up_to_tokens,
        period_context_thresholds.long_context_threshold_tokens
    from call_rate_keys
    inner join context_bands
        on
            call_rate_keys.provider = context_bands.provider
            and call_rate_keys.priced_model = context_bands.model
    left join period_context_thresholds
        on
            context_bands.provider = period_context_thresholds.provider
            and context_bands.model = period_context_thresholds.model
            and context_bands.period_from_at = period_context_thresholds.period_from_at
),

-- the prices that apply to a rate card: a contract price before a list price, then the
-- highest long-context threshold the band lies above
rate_card_price_candidates as (
    select
        rate_cards.provider,
        rate_cards.priced_model,
        rate_cards.service_tier,
        rate_cards.period_from_at,
        rate_cards.band_above_tokens,
        prices.price_component,
        prices.price_key,
        prices.price_usd,
        prices.unit_scale,
        row_number() over (
            partition by
                rate_cards.provider,
                rate_cards.priced_model,
                rate_cards.service_tier,
                rate_cards.period_from_at,
                rate_cards.band_above_tokens,
                prices.price_component
            order by prices.price_priority desc, prices.tier_threshold_tokens desc
        ) as price_rank
    from rate_cards
    inner join prices
        on
            rate_cards.provider = prices.provider
            and rate_cards.priced_model = prices.model
            and rate_cards.service_tier = prices.service_tier
            and rate_cards.period_from_at >= prices.valid_from_at
            and (prices.valid_to_at is null or rate_cards.period_from_at < prices.valid_to_at)
            and (
                prices.tier_threshold_tokens = 0
                or rate_cards.band_above_tokens >= prices.tier_threshold_tokens
            )
),

rate_card_prices as (
    select
        {%- for component in components %}
            max(case when price_component = '{{ component }}' then price_key end)
                as {{ component }}_price_key,
            max(case when price_component = '{{ component }}' then price_usd end)
                as {{ component }}_price_usd,
            -- the price per token or request, so that the cost below keeps 20 integer digits
            -- for any BIGINT count
            max(
                case
                    when price_component = '{{ component }}'
                        then cast(price_usd * unit_scale as decimal(38, 18))
                end
            ) as {{ component }}_unit_price_usd,
        {%- endfor %}
        provider,
        priced_model,
        service_tier,
        period_from_at,
        band_above_tokens
    from rate_card_price_candidates
    where price_rank = 1
    group by provider, priced_model, service_tier, period_from_at, band_above_tokens
),

rate_cards_priced as (
    select
        {%- for component in components %}
            rate_card_prices.{{ component }}_price_key,
            rate_card_prices.{{ component }}_price_usd,
            rate_card_prices.{{ component }}_unit_price_usd,
        {%- endfor %}
        rate_cards.provider,
        rate_cards.priced_model,
        rate_cards.service_tier,
        rate_cards.period_from_at,
        rate_cards.period_to_at,
        rate_cards.band_above_tokens,
        rate_cards.band_up_to_tokens,
        rate_cards.long_context_threshold_tokens
    from rate_cards
    left join rate_card_prices
        on
            rate_cards.provider = rate_card_prices.provider
            and rate_cards.priced_model = rate_card_prices.priced_model
            and rate_cards.service_tier = rate_card_prices.service_tier
            and rate_cards.period_from_at = rate_card_prices.period_from_at
            and rate_cards.band_above_tokens = rate_card_prices.band_above_tokens
),

-- each call joins the one rate card of its key, instant and total input
calls_costed as (
    select
        calls_resolved.*,
        rate_cards_priced.long_context_threshold_tokens,
        {%- for component, quantity in component_quantities %}
            rate_cards_priced.{{ component }}_price_key,
            rate_cards_priced.{{ component }}_price_usd,
            cast(
                cast(calls_resolved.{{ quantity }} as decimal(38, 0))
                * rate_cards_priced.{{ component }}_unit_price_usd
                as {{ llmeter.type_usd() }}
            ) as {{ component }}_cost_usd,
        {%- endfor %}
        -- the components the call used that have no price, in alphabetical order
        nullif(
            concat_ws(
                ', ',
                {%- for component, quantity in component_quantities | sort %}
                    case
                        when
                            calls_resolved.{{ quantity }} > 0
                            and rate_cards_priced.{{ component }}_price_key is null
                            then '{{ component }}'
                    end{{ "," if not loop.last }}
                {%- endfor %}
            ),
            ''
        ) as unpriced_components
    from calls_resolved
    left join rate_cards_priced
        on
            calls_resolved.provider = rate_cards_priced.provider
            and calls_resolved.priced_model = rate_cards_priced.priced_model
            and calls_resolved.service_tier = rate_cards_priced.service_tier
            and calls_resolved.occurred_at >= rate_cards_priced.period_from_at
            and calls_resolved.occurred_at < rate_cards_priced.period_to_at
            and calls_resolved.total_input_tokens > rate_cards_priced.band_above_tokens
            and calls_resolved.total_input_tokens <= rate_cards_priced.band_up_to_tokens
),

final as (
    select
        event_id,
        occurred_at,
        usage_date,
        provider,
        model,
        priced_model,
        model_match,
        customer_id,
        service_tier,
        case
            when total_input_tokens > long_context_threshold_tokens then 'long'
            else 'standard'
        end as context_tier,
        sub_account_id,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        web_search_requests,
        requests,
        total_input_tokens,
        {%- for component in components %}
            {{ component }}_price_key,
            {{ component }}_price_usd,
            {{ component }}_cost_usd,
        {%- endfor %}
        priced_model is not null and unpriced_components is null as is_priced,
        case
            when priced_model is null then 'unknown model'
            when unpriced_components is not null
                then 'no ' || service_tier || ' price for ' || unpriced_components
        end as unpriced_reason,
        case
            when priced_model is not null and unpriced_components is null
                then
                    cast(
                        {%- for component in components %}
                            coalesce({{ component }}_cost_usd, 0)
                            {{- " +" if not loop.last }}
                        {%- endfor %}
                        as {{ llmeter.type_usd() }}
                    )
        end as list_cost_usd,
        (select fingerprint.price_list_fingerprint from fingerprint) as price_list_fingerprint,
        {{ llmeter.run_started_timestamp() }} as priced_at,
        loaded_at
    from calls_costed
)

select * from final
