{#
    One row per UTC day, provider, tag key and value that tagged calls carried: the calls, their
    requests, list cost and allocated cost (int_llm_calls_allocated). Calls without the key are
    not here; fct_tag_daily_costs adds them under the value `(none)`.

    Incremental by UTC day: a run rebuilds the days of the calls priced since this model's last
    build (macro days_priced_since_last_build).
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='usage_date',
    on_schema_change='fail',
) }}

with

calls as (
    select
        event_id,
        usage_date,
        provider,
        requests,
        is_priced,
        list_cost_usd,
        allocated_cost_usd,
        priced_at
    from {{ ref('int_llm_calls_allocated') }}
    where {{ llmeter.days_priced_since_last_build(ref('int_llm_calls_priced')) }}
),

call_tags as (
    select
        event_id,
        tag_key,
        tag_value
    from {{ ref('int_llm_call_tags') }}
    where {{ llmeter.days_priced_since_last_build(ref('int_llm_calls_priced')) }}
),

tagged_calls as (
    select
        calls.usage_date,
        calls.provider,
        call_tags.tag_key,
        call_tags.tag_value,
        calls.requests,
        calls.is_priced,
        calls.list_cost_usd,
        calls.allocated_cost_usd,
        calls.priced_at
    from calls
    inner join call_tags
        on calls.event_id = call_tags.event_id
),

final as (
    select
        usage_date,
        provider,
        tag_key,
        tag_value,
        cast(count(*) as {{ dbt.type_bigint() }}) as calls,
        cast(sum(requests) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(case when is_priced then 0 else 1 end) as {{ dbt.type_bigint() }}) as unpriced_calls,
        cast(sum(coalesce(list_cost_usd, 0)) as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(sum(coalesce(allocated_cost_usd, 0)) as {{ llmeter.type_usd() }}) as allocated_cost_usd,
        max(priced_at) as priced_at
    from tagged_calls
    group by usage_date, provider, tag_key, tag_value
)

select * from final
