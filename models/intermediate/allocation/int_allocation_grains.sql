{#
    One row per allocation grain: a part of the provider's billed cost, the method that splits
    it and the provider's quantity there.

    The allocation grain is the finest grain that the provider's billed cost, its usage report
    and the call logs share: provider × usage_date × model as the provider names it ×
    price_component × service_tier × context_tier × sub_account_id. For each grain without
    its context tier, one of three methods applies:

    - `quantity`: the cost is split by quantity. The provider's quantity is the cost lines' own
      quantity when every line reports one (OpenAI's cost API), else the usage report's
      quantity at the same context tier (Anthropic separates 0-200k and 200k-1M).
    - `list_cost`: the cost lines name a long-context tier that the usage report does not
      separate and carry no quantity of their own (OpenAI before its cost API reported
      quantities). The grain then spans both context tiers (`context_tier = 'all'`) and is
      split by list cost, so that long-context calls keep their higher rate.
    - `unattributed`: non-token charges (`price_component = 'other'`) and charges with neither
      a quantity nor a usage counterpart go to the remainder whole, with their line items
      named.

    A cost line's quantity counts only in the units `tokens`, `1000_tokens` (times 1,000) and
    `requests`; a line in another unit or without one is treated as having no quantity.

    A cost line without a model (`(no model)`: Anthropic and OpenAI bill web search without
    one) is matched to the usage of every model at its other keys, unless a cost line names
    that model; int_allocation_recipients matches the calls the same way.
#}

with

costs as (
    select
        provider,
        usage_date,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        line_item,
        billed_cost_usd,
        coalesce(model, '(no model)') as model,
        -- the cost line's quantity in the usage report's unit; null where it has none
        case
            when quantity_unit = 'tokens' then quantity
            when quantity_unit = '1000_tokens' then quantity * 1000
            when quantity_unit = 'requests' then quantity
        end as quantity
    from {{ ref('int_provider_costs_daily') }}
),

usage as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        quantity
    from {{ ref('int_provider_usage_daily') }}
),

-- provider grains (context tier included) that the cost report bills without naming a model
modelless_cost_grains as (
    select distinct
        provider,
        usage_date,
        price_component,
        service_tier,
        context_tier,
        sub_account_id
    from costs
    where model = '(no model)' and price_component <> 'other'
),

named_cost_grains as (
    select distinct
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id
    from costs
    where model <> '(no model)'
),

-- usage takes the model `(no model)` where only a model-less cost line bills it
usage_matched as (
    select
        usage.*,
        case
            when
                modelless_cost_grains.provider is not null and named_cost_grains.provider is null
                then '(no model)'
            else usage.model
        end as grain_model
    from usage
    left join modelless_cost_grains
        on
            usage.provider = modelless_cost_grains.provider
            and usage.usage_date = modelless_cost_grains.usage_date
            and usage.price_component = modelless_cost_grains.price_component
            and usage.service_tier = modelless_cost_grains.service_tier
            and usage.context_tier = modelless_cost_grains.context_tier
            and usage.sub_account_id = modelless_cost_grains.sub_account_id
    left join named_cost_grains
        on
            usage.provider = named_cost_grains.provider
            and usage.usage_date = named_cost_grains.usage_date
            and usage.model = named_cost_grains.model
            and usage.price_component = named_cost_grains.price_component
            and usage.service_tier = named_cost_grains.service_tier
            and usage.context_tier = named_cost_grains.context_tier
            and usage.sub_account_id = named_cost_grains.sub_account_id
),

cost_grains as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(quantity) as cost_quantity,
        count(quantity) = count(*) as has_cost_quantity,
        {{ dbt.listagg('distinct line_item', "'; '", 'order by line_item') }} as line_items
    from costs
    group by
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id
),

usage_grains as (
    select
        provider,
        usage_date,
        grain_model as model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        sum(quantity) as usage_quantity
    from usage_matched
    group by
        provider,
        usage_date,
        grain_model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id
),

usage_totals as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        sub_account_id,
        sum(usage_quantity) as usage_quantity
    from usage_grains
    group by
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        sub_account_id
),

cost_grains_with_usage as (
    select
        cost_grains.*,
        usage_grains.usage_quantity
    from cost_grains
    left join usage_grains
        on
            cost_grains.provider = usage_grains.provider
            and cost_grains.usage_date = usage_grains.usage_date
            and cost_grains.model = usage_grains.model
            and cost_grains.price_component = usage_grains.price_component
            and cost_grains.service_tier = usage_grains.service_tier
            and cost_grains.context_tier = usage_grains.context_tier
            and cost_grains.sub_account_id = usage_grains.sub_account_id
),

-- one row per grain without its context tier: which allocation method applies
grain_methods as (
    select
        cost_grains_with_usage.provider,
        cost_grains_with_usage.usage_date,
        cost_grains_with_usage.model,
        cost_grains_with_usage.price_component,
        cost_grains_with_usage.service_tier,
        cost_grains_with_usage.sub_account_id,
        min(case when cost_grains_with_usage.has_cost_quantity then 1 else 0 end) = 1
            as all_lines_have_quantity,
        min(case when cost_grains_with_usage.usage_quantity is null then 0 else 1 end) = 1
            as usage_separates_context,
        max(usage_totals.usage_quantity) as usage_total_quantity
    from cost_grains_with_usage
    left join usage_totals
        on
            cost_grains_with_usage.provider = usage_totals.provider
            and cost_grains_with_usage.usage_date = usage_totals.usage_date
            and cost_grains_with_usage.model = usage_totals.model
            and cost_grains_with_usage.price_component = usage_totals.price_component
            and cost_grains_with_usage.service_tier = usage_totals.service_tier
            and cost_grains_with_usage.sub_account_id = usage_totals.sub_account_id
    group by
        cost_grains_with_usage.provider,
        cost_grains_with_usage.usage_date,
        cost_grains_with_usage.model,
        cost_grains_with_usage.price_component,
        cost_grains_with_usage.service_tier,
        cost_grains_with_usage.sub_account_id
),

grain_methods_decided as (
    select
        *,
        case
            when price_component = 'other' then 'unattributed'
            when all_lines_have_quantity or usage_separates_context then 'quantity'
            when usage_total_quantity is not null then 'list_cost'
            else 'unattributed'
        end as allocation_method
    from grain_methods
),

-- quantity and unattributed grains keep the cost line's context tier
grains_by_context as (
    select
        cost_grains_with_usage.provider,
        cost_grains_with_usage.usage_date,
        cost_grains_with_usage.model,
        cost_grains_with_usage.price_component,
        cost_grains_with_usage.service_tier,
        cost_grains_with_usage.context_tier,
        cost_grains_with_usage.sub_account_id,
        grain_methods_decided.allocation_method,
        cost_grains_with_usage.billed_cost_usd,
        case
            when grain_methods_decided.all_lines_have_quantity
                then cost_grains_with_usage.cost_quantity
            else cost_grains_with_usage.usage_quantity
        end as provider_quantity,
        cost_grains_with_usage.line_items
    from cost_grains_with_usage
    inner join grain_methods_decided
        on
            cost_grains_with_usage.provider = grain_methods_decided.provider
            and cost_grains_with_usage.usage_date = grain_methods_decided.usage_date
            and cost_grains_with_usage.model = grain_methods_decided.model
            and cost_grains_with_usage.price_component = grain_methods_decided.price_component
            and cost_grains_with_usage.service_tier = grain_methods_decided.service_tier
            and cost_grains_with_usage.sub_account_id = grain_methods_decided.sub_account_id
    where grain_methods_decided.allocation_method in ('quantity', 'unattributed')
),

-- list-cost grains span both context tiers
grains_across_context as (
    select
        cost_grains_with_usage.provider,
        cost_grains_with_usage.usage_date,
        cost_grains_with_usage.model,
        cost_grains_with_usage.price_component,
        cost_grains_with_usage.service_tier,
        'all' as context_tier,
        cost_grains_with_usage.sub_account_id,
        'list_cost' as allocation_method,
        sum(cost_grains_with_usage.billed_cost_usd) as billed_cost_usd,
        max(grain_methods_decided.usage_total_quantity) as provider_quantity,
        {{ dbt.listagg('cost_grains_with_usage.line_items', "'; '", 'order by cost_grains_with_usage.line_items') }}
            as line_items
    from cost_grains_with_usage
    inner join grain_methods_decided
        on
            cost_grains_with_usage.provider = grain_methods_decided.provider
            and cost_grains_with_usage.usage_date = grain_methods_decided.usage_date
            and cost_grains_with_usage.model = grain_methods_decided.model
            and cost_grains_with_usage.price_component = grain_methods_decided.price_component
            and cost_grains_with_usage.service_tier = grain_methods_decided.service_tier
            and cost_grains_with_usage.sub_account_id = grain_methods_decided.sub_account_id
    where grain_methods_decided.allocation_method = 'list_cost'
    group by
        cost_grains_with_usage.provider,
        cost_grains_with_usage.usage_date,
        cost_grains_with_usage.model,
        cost_grains_with_usage.price_component,
        cost_grains_with_usage.service_tier,
        cost_grains_with_usage.sub_account_id
),

allocation_grains as (
    select * from grains_by_context
    union all
    select * from grains_across_context
),

final as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        allocation_method,
        cast(billed_cost_usd as {{ llmeter.type_usd() }}) as billed_cost_usd,
        cast(provider_quantity as {{ dbt.type_bigint() }}) as provider_quantity,
        line_items
    from allocation_grains
)

select * from final
