with

source as (
    select
        customer_id,
        customer_name,
        created_date,
        source_file,
        source_line
    from {{ llmeter.source_or_empty('raw_customers', 'customers') }}
),

renamed as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(created_date as date) as created_date,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_line as {{ dbt.type_bigint() }}) as source_line
    from source
)

select * from renamed
