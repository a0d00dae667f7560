{{ config(severity='warn') }}

{#
    Allocated cost that fct_tag_daily_costs cannot show: a customer, day, provider and model
    with allocated cost in fct_customer_daily_costs but no tagged call to spread it over.
    Returns those rows as a warning, because the cost is real and stays in the cost marts.
#}

with calls as (
    select distinct
        customer_id,
        usage_date,
        provider,
        model
    from {{ ref('fct_llm_calls') }}
),

daily_costs as (
    select
        customer_id,
        usage_date,
        provider,
        model,
        allocated_cost_usd
    from {{ ref('fct_customer_daily_costs') }}
    where not is_unattributed
)

select
    daily_costs.customer_id,
    daily_costs.usage_date,
    daily_costs.provider,
    daily_costs.model,
    daily_costs.allocated_cost_usd
from daily_costs
left join calls
    on
        daily_costs.customer_id = calls.customer_id
        and daily_costs.usage_date = calls.usage_date
        and daily_costs.provider = calls.provider
        and daily_costs.model = calls.model
where
    calls.customer_id is null
    and daily_costs.allocated_cost_usd <> 0
