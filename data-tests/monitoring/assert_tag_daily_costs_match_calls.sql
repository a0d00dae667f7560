{#
    Every tag key of fct_tag_daily_costs accounts for all tagged calls of its UTC day and
    provider: its calls, requests and list cost add up to those of fct_llm_calls. Returns the
    day, provider and key rows that differ.
#}

with key_totals as (
    select
        usage_date,
        provider,
        tag_key,
        sum(calls) as calls,
        sum(requests) as requests,
        sum(list_cost_usd) as list_cost_usd
    from {{ ref('fct_tag_daily_costs') }}
    group by usage_date, provider, tag_key
),

call_totals as (
    select
        usage_date,
        provider,
        count(*) as calls,
        sum(requests) as requests,
        sum(coalesce(list_cost_usd, 0)) as list_cost_usd
    from {{ ref('fct_llm_calls') }}
    group by usage_date, provider
)

select
    key_totals.usage_date,
    key_totals.provider,
    key_totals.tag_key,
    key_totals.calls as key_calls,
    call_totals.calls as all_calls,
    key_totals.list_cost_usd as key_list_cost_usd,
    call_totals.list_cost_usd as all_list_cost_usd
from key_totals
left join call_totals
    on
        key_totals.usage_date = call_totals.usage_date
        and key_totals.provider = call_totals.provider
where
    call_totals.calls is null
    or key_totals.calls <> call_totals.calls
    or key_totals.requests <> call_totals.requests
    or key_totals.list_cost_usd <> call_totals.list_cost_usd
