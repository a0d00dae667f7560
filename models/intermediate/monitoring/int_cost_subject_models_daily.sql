{#
    The daily cost and usage of every subject that fct_cost_anomalies judges, by provider and
    model:
    - `customer`: one customer's allocated cost (subject_id = customer_id);
    - `unattributed`: one provider's billed cost that no tagged call explains (subject_id =
      the provider);
    - `provider`: one provider's whole cost, attributed or not (subject_id = the provider).
    Cost is `allocated_cost_usd` of fct_customer_daily_costs: the billed cost where the provider
    reported it, else the list-price estimate. Only complete days.
#}

with daily_costs as (
    select
        customer_id,
        is_unattributed,
        usage_date,
        provider,
        model,
        requests,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        web_search_requests,
        allocated_cost_usd
    from {{ ref('fct_customer_daily_costs') }}
    where usage_date < {{ llmeter.as_of_date() }}
),

subject_rows as (
    select
        case when is_unattributed then 'unattributed' else 'customer' end as subject_type,
        case when is_unattributed then provider else customer_id end as subject_id,
        usage_date,
        provider,
        model,
        requests,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        web_search_requests,
        allocated_cost_usd
    from daily_costs
    union all
    select
        'provider' as subject_type,
        provider as subject_id,
        usage_date,
        provider,
        model,
        requests,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        web_search_requests,
        allocated_cost_usd
    from daily_costs
),

final as (
    select
        subject_type,
        subject_id,
        usage_date,
        provider,
        model,
        sum(requests) as requests,
        sum(input_uncached_tokens) as input_uncached_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_write_5m_tokens) as cache_write_5m_tokens,
        sum(cache_write_1h_tokens) as cache_write_1h_tokens,
        sum(output_tokens) as output_tokens,
        sum(web_search_requests) as web_search_requests,
        sum(allocated_cost_usd) as cost_usd
    from subject_rows
    group by subject_type, subject_id, usage_date, provider, model
)

select * from final
