{#
    One row per customer × UTC day × provider × model (as the provider named it): the customer's
    tagged usage, its list cost, and its allocated cost, with the provider's billed cost that no
    tagged call explains under the customer `(unattributed)`.

    cost_basis:
    - `billed`: the provider's cost report covers the provider-day (int_provider_costs_daily
      has rows for it). allocated_cost_usd is the customer's share of the billed cost
      (int_costs_allocated), and per provider-day the billed rows add up to the billed cost
      exactly. A customer whose calls fall in a grain the provider billed nothing for gets 0.
    - `list_estimate`: no billed cost exists for the provider-day (a provider without a cost
      source, such as Google, or a day whose cost report has not arrived yet, about a day late
      at Anthropic). allocated_cost_usd is the list cost. The model is rebuilt in full on every
      run, so the billed figure replaces the estimate as soon as the cost report arrives.

    The `(unattributed)` rows exist only on billed days. Their token columns hold the provider's
    quantities that no tagged call explains; charges without a model (code execution, storage)
    appear under the model `(no model)` with their line items in `unattributed_line_items`.
#}

with

calls as (
    select
        provider,
        usage_date,
        model,
        customer_id,
        requests,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        web_search_requests,
        list_cost_usd,
        is_priced
    from {{ ref('int_llm_calls_priced') }}
),

allocations as (
    select
        provider,
        usage_date,
        recipient_model,
        customer_id,
        is_unattributed,
        price_component,
        allocation_method,
        is_over_attributed,
        line_items,
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

customer_usage as (
    select
        provider,
        usage_date,
        model,
        customer_id,
        sum(requests) as requests,
        sum(input_uncached_tokens) as input_uncached_tokens,
        sum(cache_read_tokens) as cache_read_tokens,
        sum(cache_write_5m_tokens) as cache_write_5m_tokens,
        sum(cache_write_1h_tokens) as cache_write_1h_tokens,
        sum(output_tokens) as output_tokens,
        sum(reasoning_tokens) as reasoning_tokens,
        sum(web_search_requests) as web_search_requests,
        sum(list_cost_usd) as list_cost_usd,
        sum(case when is_priced then 0 else 1 end) as unpriced_calls
    from calls
    group by
        provider,
        usage_date,
        model,
        customer_id
),

recipient_allocations as (
    select
        provider,
        usage_date,
        recipient_model as model,
        customer_id,
        sum(allocated_cost_usd) as allocated_cost_usd,
        max(case when is_over_attributed then 1 else 0 end) = 1 as is_over_attributed
    from allocations
    group by
        provider,
        usage_date,
        recipient_model,
        customer_id
),

-- the provider's quantities and line items that no tagged call explains
unattributed_usage as (
    select
        provider,
        usage_date,
        recipient_model as model,
        {%- for component, quantity in [
            ('input_uncached', 'input_uncached_tokens'),
            ('cache_read', 'cache_read_tokens'),
            ('cache_write_5m', 'cache_write_5m_tokens'),
            ('cache_write_1h', 'cache_write_1h_tokens'),
            ('output', 'output_tokens'),
            ('web_search_request', 'web_search_requests'),
        ] %}
            sum(case when price_component = '{{ component }}' then quantity else 0 end)
                as {{ quantity }},
        {%- endfor %}
        {{ dbt.listagg(
            "case when allocation_method = 'unattributed' then line_items end",
            "'; '",
            'order by line_items',
        ) }} as unattributed_line_items
    from allocations
    where is_unattributed
    group by
        provider,
        usage_date,
        recipient_model
),

customer_rows as (
    select
        customer_usage.provider,
        customer_usage.usage_date,
        customer_usage.model,
        customer_usage.customer_id,
        false as is_unattributed,
        customer_usage.requests,
        customer_usage.input_uncached_tokens,
        customer_usage.cache_read_tokens,
        customer_usage.cache_write_5m_tokens,
        customer_usage.cache_write_1h_tokens,
        customer_usage.output_tokens,
        customer_usage.reasoning_tokens,
        customer_usage.web_search_requests,
        customer_usage.unpriced_calls,
        customer_usage.list_cost_usd,
        billed_days.provider is not null as is_billed,
        recipient_allocations.allocated_cost_usd,
        recipient_allocations.is_over_attributed,
        cast(null as {{ dbt.type_string() }}) as unattributed_line_items
    from customer_usage
    left join billed_days
        on
            customer_usage.provider = billed_days.provider
            and customer_usage.usage_date = billed_days.usage_date
    left join recipient_allocations
        on
            customer_usage.provider = recipient_allocations.provider
            and customer_usage.usage_date = recipient_allocations.usage_date
            and customer_usage.model = recipient_allocations.model
            and customer_usage.customer_id = recipient_allocations.customer_id
),

-- customers whose only allocation comes from a model-less charge (web search without a model)
customer_allocation_only_rows as (
    select
        recipient_allocations.provider,
        recipient_allocations.usage_date,
        recipient_allocations.model,
        recipient_allocations.customer_id,
        false as is_unattributed,
        0 as requests,
        0 as input_uncached_tokens,
        0 as cache_read_tokens,
        0 as cache_write_5m_tokens,
        0 as cache_write_1h_tokens,
        0 as output_tokens,
        0 as reasoning_tokens,
        0 as web_search_requests,
        0 as unpriced_calls,
        cast(null as {{ llmeter.type_usd() }}) as list_cost_usd,
        true as is_billed,
        recipient_allocations.allocated_cost_usd,
        recipient_allocations.is_over_attributed,
        cast(null as {{ dbt.type_string() }}) as unattributed_line_items
    from recipient_allocations
    left join customer_usage
        on
            recipient_allocations.provider = customer_usage.provider
            and recipient_allocations.usage_date = customer_usage.usage_date
            and recipient_allocations.model = customer_usage.model
            and recipient_allocations.customer_id = customer_usage.customer_id
    where
        recipient_allocations.customer_id <> '(unattributed)'
        and customer_usage.customer_id is null
),

unattributed_rows as (
    select
        recipient_allocations.provider,
        recipient_allocations.usage_date,
        recipient_allocations.model,
        recipient_allocations.customer_id,
        true as is_unattributed,
        0 as requests,
        unattributed_usage.input_uncached_tokens,
        unattributed_usage.cache_read_tokens,
        unattributed_usage.cache_write_5m_tokens,
        unattributed_usage.cache_write_1h_tokens,
        unattributed_usage.output_tokens,
        0 as reasoning_tokens,
        unattributed_usage.web_search_requests,
        0 as unpriced_calls,
        cast(null as {{ llmeter.type_usd() }}) as list_cost_usd,
        true as is_billed,
        recipient_allocations.allocated_cost_usd,
        recipient_allocations.is_over_attributed,
        unattributed_usage.unattributed_line_items
    from recipient_allocations
    inner join unattributed_usage
        on
            recipient_allocations.provider = unattributed_usage.provider
            and recipient_allocations.usage_date = unattributed_usage.usage_date
            and recipient_allocations.model = unattributed_usage.model
    where recipient_allocations.customer_id = '(unattributed)'
),

all_rows as (
    select * from customer_rows
    union all
    select * from customer_allocation_only_rows
    union all
    select * from unattributed_rows
),

final as (
    select
        customer_id,
        usage_date,
        provider,
        model,
        is_unattributed,
        cast(requests as {{ dbt.type_bigint() }}) as requests,
        cast(input_uncached_tokens as {{ dbt.type_bigint() }}) as input_uncached_tokens,
        cast(cache_read_tokens as {{ dbt.type_bigint() }}) as cache_read_tokens,
        cast(cache_write_5m_tokens as {{ dbt.type_bigint() }}) as cache_write_5m_tokens,
        cast(cache_write_1h_tokens as {{ dbt.type_bigint() }}) as cache_write_1h_tokens,
        cast(output_tokens as {{ dbt.type_bigint() }}) as output_tokens,
        cast(reasoning_tokens as {{ dbt.type_bigint() }}) as reasoning_tokens,
        cast(web_search_requests as {{ dbt.type_bigint() }}) as web_search_requests,
        cast(unpriced_calls as {{ dbt.type_bigint() }}) as unpriced_calls,
        cast(list_cost_usd as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(
            case
                when is_billed then coalesce(allocated_cost_usd, 0)
                else list_cost_usd
            end
            as {{ llmeter.type_usd() }}
        ) as allocated_cost_usd,
        case when is_billed then 'billed' else 'list_estimate' end as cost_basis,
        coalesce(is_over_attributed, false) as is_over_attributed,
        unattributed_line_items
    from all_rows
)

select * from final
