{#
    One row per customer: every customer of customers.csv, plus every customer id that has LLM
    cost but is missing from customers.csv (is_listed = false), so that the margin marts join
    to a row for each of their customers. "Current" means on the day before the as-of date, the
    last day the marts cover.
#}

{%- set as_of = llmeter.as_of_date() -%}

with

customers as (
    select
        customer_id,
        customer_name,
        created_date
    from {{ ref('stg_customers__customers') }}
),

subscription_days as (
    select
        customer_id,
        subscription_id,
        plan_id,
        fee_date
    from {{ ref('int_subscription_fees_daily') }}
),

costs as (
    select
        customer_id,
        usage_date,
        requests
    from {{ ref('fct_customer_daily_costs') }}
    where
        not is_unattributed
        and usage_date < {{ as_of }}
),

current_subscriptions as (
    select
        customer_id,
        subscription_id,
        plan_id
    from subscription_days
    where fee_date = cast({{ dbt.dateadd('day', -1, as_of) }} as date)
),

usage_bounds as (
    select
        customer_id,
        min(usage_date) as first_usage_date,
        max(usage_date) as last_usage_date
    from costs
    where requests > 0
    group by customer_id
),

-- customer ids with cost that customers.csv does not list
unlisted as (
    select distinct costs.customer_id
    from costs
    left join customers
        on costs.customer_id = customers.customer_id
    where customers.customer_id is null
),

all_customers as (
    select
        customer_id,
        customer_name,
        created_date,
        true as is_listed
    from customers
    union all
    select
        customer_id,
        cast(null as {{ dbt.type_string() }}) as customer_name,
        cast(null as date) as created_date,
        false as is_listed
    from unlisted
),

final as (
    select
        cast(all_customers.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(all_customers.customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(all_customers.created_date as date) as created_date,
        cast(all_customers.is_listed as {{ dbt.type_boolean() }}) as is_listed,
        cast(current_subscriptions.subscription_id as {{ dbt.type_string() }})
            as current_subscription_id,
        cast(current_subscriptions.plan_id as {{ dbt.type_string() }}) as current_plan_id,
        cast(current_subscriptions.subscription_id is not null as {{ dbt.type_boolean() }})
            as is_active,
        cast(usage_bounds.first_usage_date as date) as first_usage_date,
        cast(usage_bounds.last_usage_date as date) as last_usage_date
    from all_customers
    left join current_subscriptions
        on all_customers.customer_id = current_subscriptions.customer_id
    left join usage_bounds
        on all_customers.customer_id = usage_bounds.customer_id
)

select * from final
