{#
    The three views of a provider's cost on one UTC day that the invoice reconciliation compares:
    the provider's own cost data, the cost allocated to customers, and the list-price estimate
    of the tagged calls. Ephemeral, because only the reconciliation marts read it, and so that
    selecting those marts never needs this model built first.
#}
{{ config(materialized='ephemeral') }}

with

provider_costs as (
    select
        provider,
        usage_date,
        billed_cost_usd
    from {{ ref('int_provider_costs_daily') }}
),

customer_costs as (
    select
        provider,
        usage_date,
        is_unattributed,
        cost_basis,
        list_cost_usd,
        allocated_cost_usd
    from {{ ref('fct_customer_daily_costs') }}
),

billed_daily as (
    select
        provider,
        usage_date,
        sum(billed_cost_usd) as billed_cost_usd
    from provider_costs
    group by provider, usage_date
),

-- allocated cost counts only rows split from billed cost, not list-price fallbacks
customer_daily as (
    select
        provider,
        usage_date,
        sum(
            case when cost_basis = 'billed' then allocated_cost_usd else 0 end
        ) as allocated_cost_usd,
        sum(
            case when cost_basis = 'billed' and is_unattributed then allocated_cost_usd else 0 end
        ) as unattributed_cost_usd,
        sum(coalesce(list_cost_usd, 0)) as list_cost_usd
    from customer_costs
    group by provider, usage_date
),

final as (
    select
        coalesce(billed_daily.provider, customer_daily.provider) as provider,
        coalesce(billed_daily.usage_date, customer_daily.usage_date) as usage_date,
        billed_daily.usage_date is not null as has_billed_cost,
        cast(coalesce(billed_daily.billed_cost_usd, 0) as {{ llmeter.type_usd() }}) as billed_cost_usd,
        cast(
            coalesce(customer_daily.allocated_cost_usd, 0) as {{ llmeter.type_usd() }}
        ) as allocated_cost_usd,
        cast(
            coalesce(customer_daily.unattributed_cost_usd, 0) as {{ llmeter.type_usd() }}
        ) as unattributed_cost_usd,
        cast(coalesce(customer_daily.list_cost_usd, 0) as {{ llmeter.type_usd() }}) as list_cost_usd
    from billed_daily
    full outer join customer_daily
        on
            billed_daily.provider = customer_daily.provider
            and billed_daily.usage_date = customer_daily.usage_date
)

select * from final
