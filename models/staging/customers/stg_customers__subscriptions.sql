with

source as (
    select
        subscription_id,
        customer_id,
        plan_id,
        start_date,
        end_date,
        negotiated_fee,
        discount_pct,
        source_file,
        source_line
    from {{ llmeter.source_or_empty('raw_customers', 'subscriptions') }}
),

renamed as (
    select
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(negotiated_fee as {{ llmeter.type_price() }}) as negotiated_fee,
        cast(discount_pct as {{ llmeter.type_price() }}) as discount_pct,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_line as {{ dbt.type_bigint() }}) as source_line
    from source
)

select * from renamed
