{#
    How much of each provider's cost is attributed to customers, per UTC day, so that a drop in
    tagging shows here before the margins mislead.

    The cost side comes from fct_customer_daily_costs, whose allocated costs add up to the
    provider's billed cost on days the provider reported one, and to the list-price estimate
    otherwise. The tagging side compares the tokens of tagged calls (fct_llm_calls) with the
    tokens the provider's usage API reports (int_provider_usage_daily). There is no share of
    calls: Anthropic's usage report has no request counts.
#}

with daily_costs as (
    select
        provider,
        usage_date,
        is_unattributed,
        cost_basis,
        allocated_cost_usd
    from {{ ref('fct_customer_daily_costs') }}
),

provider_costs as (
    select
        provider,
        usage_date,
        billed_cost_usd
    from {{ ref('int_provider_costs_daily') }}
),

provider_usage as (
    select
        provider,
        usage_date,
        quantity
    from {{ ref('int_provider_usage_daily') }}
    where quantity_unit = 'tokens'
),

calls as (
    select
        provider,
        usage_date,
        requests,
        list_cost_usd,
        input_uncached_tokens
        + cache_read_tokens
        + cache_write_5m_tokens
        + cache_write_1h_tokens
        + output_tokens as tokens
    from {{ ref('fct_llm_calls') }}
),

allocated_days as (
    select
        provider,
        usage_date,
        -- a day with any list-price estimate is an estimate
        max(cost_basis) as cost_basis,
        sum(allocated_cost_usd) as total_cost_usd,
        sum(case when is_unattributed then 0 else allocated_cost_usd end) as attributed_cost_usd,
        sum(case when is_unattributed then allocated_cost_usd else 0 end) as unattributed_cost_usd
    from daily_costs
    group by provider, usage_date
),

billed_days as (
    select
        provider,
        usage_date,
        sum(billed_cost_usd) as billed_cost_usd
    from provider_costs
    group by provider, usage_date
),

usage_days as (
    select
        provider,
        usage_date,
        sum(quantity) as provider_tokens
    from provider_usage
    group by provider, usage_date
),

call_days as (
    select
        provider,
        usage_date,
        count(*) as tagged_calls,
        sum(requests) as tagged_requests,
        sum(tokens) as tagged_tokens,
        sum(coalesce(list_cost_usd, 0)) as tagged_list_cost_usd
    from calls
    group by provider, usage_date
),

provider_days as (
    select
        provider,
        usage_date
    from allocated_days
    union
    select
        provider,
        usage_date
    from billed_days
    union
    select
        provider,
        usage_date
    from usage_days
    union
    select
        provider,
        usage_date
    from call_days
),

final as (
    select
        provider_days.provider,
        provider_days.usage_date,
        provider_days.usage_date < {{ llmeter.as_of_date() }} as is_complete_day,
        allocated_days.cost_basis,
        billed_days.billed_cost_usd,
        coalesce(allocated_days.total_cost_usd, 0) as total_cost_usd,
        coalesce(allocated_days.attributed_cost_usd, 0) as attributed_cost_usd,
        coalesce(allocated_days.unattributed_cost_usd, 0) as unattributed_cost_usd,
        {{ llmeter.exact_ratio(
            'coalesce(allocated_days.attributed_cost_usd, 0)',
            'allocated_days.total_cost_usd',
            6) }} as attributed_cost_share,
        cast(coalesce(call_days.tagged_calls, 0) as {{ dbt.type_bigint() }}) as tagged_calls,
        cast(coalesce(call_days.tagged_requests, 0) as {{ dbt.type_bigint() }}) as tagged_requests,
        cast(coalesce(call_days.tagged_tokens, 0) as {{ dbt.type_bigint() }}) as tagged_tokens,
        cast(usage_days.provider_tokens as {{ dbt.type_bigint() }}) as provider_tokens,
        {{ llmeter.exact_ratio(
            'coalesce(call_days.tagged_tokens, 0)',
            'usage_days.provider_tokens',
            6) }} as tagged_token_share,
        coalesce(call_days.tagged_list_cost_usd, 0) as tagged_list_cost_usd
    from provider_days
    left join allocated_days
        on
            provider_days.provider = allocated_days.provider
            and provider_days.usage_date = allocated_days.usage_date
    left join billed_days
        on
            provider_days.provider = billed_days.provider
            and provider_days.usage_date = billed_days.usage_date
    left join usage_days
        on
            provider_days.provider = usage_days.provider
            and provider_days.usage_date = usage_days.usage_date
    left join call_days
        on
            provider_days.provider = call_days.provider
            and provider_days.usage_date = call_days.usage_date
)

select * from final
