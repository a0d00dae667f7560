{#
    BilledCost of fct_focus_llm_costs adds up, per provider and UTC day, to the allocated cost
    of fct_customer_daily_costs exactly, and so to the provider's billed cost
    (int_provider_costs_daily) on days billed in full. Returns the provider-days that differ.
#}

-- FOCUS column names are case-sensitive PascalCase, so they stay quoted and RF06 is off.
-- noqa: disable=RF06

with focus_days as (
    select
        "x_Provider" as provider,
        "x_UsageDate" as usage_date,
        sum("BilledCost") as billed_cost_usd
    from {{ ref('fct_focus_llm_costs') }}
    group by "x_Provider", "x_UsageDate"
),

allocated_days as (
    select
        provider,
        usage_date,
        sum(allocated_cost_usd) as allocated_cost_usd,
        min(cost_basis) = 'billed' and max(cost_basis) = 'billed' as is_billed_in_full
    from {{ ref('fct_customer_daily_costs') }}
    group by provider, usage_date
),

provider_days as (
    select
        provider,
        usage_date,
        sum(billed_cost_usd) as billed_cost_usd
    from {{ ref('int_provider_costs_daily') }}
    group by provider, usage_date
),

compared as (
    select
        allocated_days.provider,
        allocated_days.usage_date,
        allocated_days.allocated_cost_usd,
        allocated_days.is_billed_in_full,
        provider_days.billed_cost_usd as provider_billed_cost_usd,
        coalesce(focus_days.billed_cost_usd, 0) as focus_billed_cost_usd
    from allocated_days
    left join focus_days
        on
            allocated_days.provider = focus_days.provider
            and allocated_days.usage_date = focus_days.usage_date
    left join provider_days
        on
            allocated_days.provider = provider_days.provider
            and allocated_days.usage_date = provider_days.usage_date
)

select *
from compared
where
    focus_billed_cost_usd <> allocated_cost_usd
    or (is_billed_in_full and focus_billed_cost_usd <> coalesce(provider_billed_cost_usd, 0))
