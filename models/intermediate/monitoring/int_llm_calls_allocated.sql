{#
    One row per tagged call with its share of the allocated cost: each customer, day, provider
    and model's `allocated_cost_usd` in fct_customer_daily_costs is split over that group's
    calls in proportion to their list cost, with split_exact so that the shares add up to the
    group's allocated cost exactly. A group whose calls have no list cost (all unpriced) is
    split evenly. `allocated_cost_usd` is null for a call whose group has no row in
    fct_customer_daily_costs.

    Incremental by UTC day: a run rebuilds the days of the calls priced since this model's last
    build (macro days_priced_since_last_build).

    NOTE: the exact split over every call is the slowest step of a full build at ten million
    calls (60 s of 150 s, BENCHMARKS.md); only the tag costs need it.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='usage_date',
    on_schema_change='fail',
) }}

with calls as (
    select
        event_id,
        usage_date,
        provider,
        model,
        customer_id,
        requests,
        is_priced,
        list_cost_usd,
        priced_at
    from {{ ref('fct_llm_calls') }}
    where {{ llmeter.days_priced_since_last_build(ref('int_llm_calls_priced')) }}
),

daily_costs as (
    select
        customer_id,
        usage_date,
        provider,
        model,
        allocated_cost_usd
    from {{ ref('fct_customer_daily_costs') }}
    where not is_unattributed
),

group_list_costs as (
    select
        customer_id,
        usage_date,
        provider,
        model,
        sum(coalesce(list_cost_usd, 0)) as group_list_cost_usd
    from calls
    group by customer_id, usage_date, provider, model
),

weighted_calls as (
    select
        calls.event_id,
        calls.usage_date,
        calls.provider,
        calls.model,
        calls.customer_id,
        calls.requests,
        calls.is_priced,
        calls.list_cost_usd,
        calls.priced_at,
        daily_costs.allocated_cost_usd as group_allocated_cost_usd,
        case
            when group_list_costs.group_list_cost_usd > 0 then coalesce(calls.list_cost_usd, 0)
            else 1
        end as split_weight
    from calls
    inner join group_list_costs
        on
            calls.customer_id = group_list_costs.customer_id
            and calls.usage_date = group_list_costs.usage_date
            and calls.provider = group_list_costs.provider
            and calls.model = group_list_costs.model
    left join daily_costs
        on
            calls.customer_id = daily_costs.customer_id
            and calls.usage_date = daily_costs.usage_date
            and calls.provider = daily_costs.provider
            and calls.model = daily_costs.model
),

split_calls as (
    {{ llmeter.split_exact(
        'weighted_calls',
        'group_allocated_cost_usd',
        'split_weight',
        ['customer_id', 'usage_date', 'provider', 'model'],
        ['event_id'],
        'allocated_cost_usd',
        weight_scale=12,
    ) }}
),

final as (
    select
        event_id,
        usage_date,
        provider,
        model,
        customer_id,
        requests,
        is_priced,
        list_cost_usd,
        allocated_cost_usd,
        priced_at
    from split_calls
)

select * from final
