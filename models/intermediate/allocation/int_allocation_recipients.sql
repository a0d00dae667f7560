{#
    One row per allocation grain (see int_allocation_grains) and recipient: each customer
    whose tagged calls fall in the grain, with the model of its calls, and the `(unattributed)`
    remainder, with the weight that int_costs_allocated splits the grain's billed cost by.

    - `quantity` grains: a customer's weight is its quantity; the remainder's weight is the
      provider's quantity minus the customers' quantities. A customer thus carries its share of
      what the provider billed for that grain.
    - `list_cost` grains: a customer's weight is the list cost of its calls in dollars; the
      remainder's weight is the billed cost minus the customers' list cost (0 when negative),
      so the customers carry their list cost when the bill covers it.
    - `unattributed` grains: the remainder alone, weight 1.

    Over-attribution: when the customers' quantity exceeds the provider's (clock skew at
    midnight, a call tagged twice), the remainder's weight is 0, the customers share the whole
    cost in proportion to their weights, and the grain is flagged `is_over_attributed`.

    A call whose model no cost line names, while a cost line without a model (`(no model)`)
    bills its component, falls in that model-less grain; its recipient row keeps the call's
    model.

    NOTE: a sub-account that the provider did not group by (`(not grouped)`) matches only calls
    whose sub-account is also `(not grouped)`; their cost then goes to the remainder.
#}

with

call_components as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        customer_id,
        quantity,
        list_cost_usd
    from {{ ref('int_call_components_daily') }}
),

allocation_grains as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        allocation_method,
        billed_cost_usd,
        provider_quantity,
        line_items
    from {{ ref('int_allocation_grains') }}
),

modelless_grains as (
    select distinct
        provider,
        usage_date,
        price_component,
        service_tier,
        context_tier,
        sub_account_id
    from allocation_grains
    where model = '(no model)' and price_component <> 'other'
),

named_grains as (
    select distinct
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id
    from allocation_grains
    where model <> '(no model)'
),

-- calls take the model `(no model)` where only a model-less cost line bills them
calls_matched as (
    select distinct
        call_components.*,
        case
            when modelless_grains.provider is not null and named_grains.provider is null
                then '(no model)'
            else call_components.model
        end as grain_model
    from call_components
    left join modelless_grains
        on
            call_components.provider = modelless_grains.provider
            and call_components.usage_date = modelless_grains.usage_date
            and call_components.price_component = modelless_grains.price_component
            and call_components.service_tier = modelless_grains.service_tier
            and call_components.sub_account_id = modelless_grains.sub_account_id
            and modelless_grains.context_tier in (call_components.context_tier, 'all')
    left join named_grains
        on
            call_components.provider = named_grains.provider
            and call_components.usage_date = named_grains.usage_date
            and call_components.model = named_grains.model
            and call_components.price_component = named_grains.price_component
            and call_components.service_tier = named_grains.service_tier
            and call_components.sub_account_id = named_grains.sub_account_id
            and named_grains.context_tier in (call_components.context_tier, 'all')
),

-- one row per grain, customer and model of the customer's calls
customer_recipients as (
    select
        allocation_grains.provider,
        allocation_grains.usage_date,
        allocation_grains.model,
        allocation_grains.price_component,
        allocation_grains.service_tier,
        allocation_grains.context_tier,
        allocation_grains.sub_account_id,
        calls_matched.customer_id,
        calls_matched.model as recipient_model,
        sum(calls_matched.quantity) as quantity,
        sum(coalesce(calls_matched.list_cost_usd, 0)) as list_cost_usd
    from allocation_grains
    inner join calls_matched
        on
            allocation_grains.provider = calls_matched.provider
            and allocation_grains.usage_date = calls_matched.usage_date
            and allocation_grains.model = calls_matched.grain_model
            and allocation_grains.price_component = calls_matched.price_component
            and allocation_grains.service_tier = calls_matched.service_tier
            and allocation_grains.sub_account_id = calls_matched.sub_account_id
            and (
                allocation_grains.context_tier = 'all'
                or allocation_grains.context_tier = calls_matched.context_tier
            )
    where allocation_grains.allocation_method <> 'unattributed'
    group by
        allocation_grains.provider,
        allocation_grains.usage_date,
        allocation_grains.model,
        allocation_grains.price_component,
        allocation_grains.service_tier,
        allocation_grains.context_tier,
        allocation_grains.sub_account_id,
        calls_matched.customer_id,
        calls_matched.model
),

customer_totals as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        sum(quantity) as customers_quantity,
        sum(list_cost_usd) as customers_list_cost_usd
    from customer_recipients
    group by
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id
),

grains_summarized as (
    select
        allocation_grains.*,
        coalesce(customer_totals.customers_quantity, 0) as customers_quantity,
        coalesce(customer_totals.customers_list_cost_usd, 0) as customers_list_cost_usd,
        coalesce(customer_totals.customers_quantity > allocation_grains.provider_quantity, false)
            as is_over_attributed
    from allocation_grains
    left join customer_totals
        on
            allocation_grains.provider = customer_totals.provider
            and allocation_grains.usage_date = customer_totals.usage_date
            and allocation_grains.model = customer_totals.model
            and allocation_grains.price_component = customer_totals.price_component
            and allocation_grains.service_tier = customer_totals.service_tier
            and allocation_grains.context_tier = customer_totals.context_tier
            and allocation_grains.sub_account_id = customer_totals.sub_account_id
),

recipients as (
    select
        grains_summarized.provider,
        grains_summarized.usage_date,
        grains_summarized.model,
        grains_summarized.price_component,
        grains_summarized.service_tier,
        grains_summarized.context_tier,
        grains_summarized.sub_account_id,
        customer_recipients.customer_id,
        customer_recipients.recipient_model,
        false as is_unattributed,
        customer_recipients.quantity,
        customer_recipients.list_cost_usd,
        case
            when grains_summarized.allocation_method = 'list_cost'
                then customer_recipients.list_cost_usd
            else customer_recipients.quantity
        end as weight
    from grains_summarized
    inner join customer_recipients
        on
            grains_summarized.provider = customer_recipients.provider
            and grains_summarized.usage_date = customer_recipients.usage_date
            and grains_summarized.model = customer_recipients.model
            and grains_summarized.price_component = customer_recipients.price_component
            and grains_summarized.service_tier = customer_recipients.service_tier
            and grains_summarized.context_tier = customer_recipients.context_tier
            and grains_summarized.sub_account_id = customer_recipients.sub_account_id

    union all

    -- the remainder: one row per grain, also where it gets nothing
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        '(unattributed)' as customer_id,
        model as recipient_model,
        true as is_unattributed,
        case
            when allocation_method = 'unattributed' then coalesce(provider_quantity, 0)
            else greatest(coalesce(provider_quantity, 0) - customers_quantity, 0)
        end as quantity,
        cast(null as {{ llmeter.type_usd() }}) as list_cost_usd,
        case
            when allocation_method = 'unattributed' then 1
            when is_over_attributed then 0
            when allocation_method = 'list_cost'
                then greatest(billed_cost_usd - customers_list_cost_usd, 0)
            else greatest(provider_quantity - customers_quantity, 0)
        end as weight
    from grains_summarized
),

final as (
    select
        recipients.provider,
        recipients.usage_date,
        recipients.model,
        recipients.price_component,
        recipients.service_tier,
        recipients.context_tier,
        recipients.sub_account_id,
        recipients.customer_id,
        recipients.recipient_model,
        recipients.is_unattributed,
        grains_summarized.allocation_method,
        cast(grains_summarized.billed_cost_usd as {{ llmeter.type_usd() }}) as billed_cost_usd,
        cast(grains_summarized.provider_quantity as {{ dbt.type_bigint() }}) as provider_quantity,
        cast(grains_summarized.customers_quantity as {{ dbt.type_bigint() }}) as customers_quantity,
        grains_summarized.is_over_attributed,
        grains_summarized.line_items,
        cast(recipients.quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(recipients.list_cost_usd as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(recipients.weight as {{ llmeter.type_usd() }}) as weight
    from recipients
    inner join grains_summarized
        on
            recipients.provider = grains_summarized.provider
            and recipients.usage_date = grains_summarized.usage_date
            and recipients.model = grains_summarized.model
            and recipients.price_component = grains_summarized.price_component
            and recipients.service_tier = grains_summarized.service_tier
            and recipients.context_tier = grains_summarized.context_tier
            and recipients.sub_account_id = grains_summarized.sub_account_id
)

select * from final
