{#
    Per provider-day, the billed rows of fct_customer_daily_costs (customers plus the
    `(unattributed)` remainder) add up to the provider's billed cost exactly: returns every
    provider-day where they differ by any amount, or where one side has no rows.
#}

with

billed as (
    select
        provider,
        usage_date,
        sum(billed_cost_usd) as billed_cost_usd
    from {{ ref('int_provider_costs_daily') }}
    group by provider, usage_date
),

allocated as (
    select
        provider,
        usage_date,
        sum(allocated_cost_usd) as allocated_cost_usd
    from {{ ref('fct_customer_daily_costs') }}
    where cost_basis = 'billed'
    group by provider, usage_date
),

compared as (
    select
        billed.billed_cost_usd,
        allocated.allocated_cost_usd,
        coalesce(billed.provider, allocated.provider) as provider,
        coalesce(billed.usage_date, allocated.usage_date) as usage_date
    from billed
    full outer join allocated
        on
            billed.provider = allocated.provider
            and billed.usage_date = allocated.usage_date
)

select *
from compared
where
    billed_cost_usd is null
    or allocated_cost_usd is null
    or billed_cost_usd <> allocated_cost_usd
