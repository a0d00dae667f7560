{#
    Per provider and UTC day, the billed cost in int_provider_costs_daily adds up exactly to
    the staging cost models, so that parsing and aggregating line items never drops or
    duplicates a cent. Returns the provider-days that differ.
#}

with intermediate_costs as (
    select
        provider,
        usage_date,
        sum(billed_cost_usd) as billed_cost_usd
    from {{ ref('int_provider_costs_daily') }}
    group by provider, usage_date
),

openai_costs as (
    select
        usage_date,
        sum(billed_cost_usd) as billed_cost_usd
    from {{ ref('stg_openai__costs') }}
    group by usage_date
),

anthropic_costs as (
    select
        usage_date,
        sum(billed_cost_usd) as billed_cost_usd
    from {{ ref('stg_anthropic__costs') }}
    group by usage_date
),

staging_costs as (
    select
        'openai' as provider,
        usage_date,
        billed_cost_usd
    from openai_costs
    union all
    select
        'anthropic' as provider,
        usage_date,
        billed_cost_usd
    from anthropic_costs
),

compared as (
    select
        staging_costs.billed_cost_usd as staging_cost_usd,
        intermediate_costs.billed_cost_usd as intermediate_cost_usd,
        coalesce(staging_costs.provider, intermediate_costs.provider) as provider,
        coalesce(staging_costs.usage_date, intermediate_costs.usage_date) as usage_date
    from staging_costs
    full outer join intermediate_costs
        on
            staging_costs.provider = intermediate_costs.provider
            and staging_costs.usage_date = intermediate_costs.usage_date
)

select * from compared
where
    staging_cost_usd is null
    or intermediate_cost_usd is null
    or staging_cost_usd <> intermediate_cost_usd
