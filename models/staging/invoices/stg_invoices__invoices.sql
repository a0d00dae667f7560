{#
    The raw table exists only once the invoices source has run. Without it (no invoice folder
    configured) `source_or_empty` makes this view empty, so that the build succeeds and the
    reconciliation shows the months with usage as pending.
#}

with

source as (
    select
        invoice_id,
        provider,
        period_start_date,
        period_end_date,
        currency,
        usage_subtotal,
        credits,
        tax,
        total,
        source_file,
        source_line,
        source_file_modified_at
    from {{ llmeter.source_or_empty('raw_invoices', 'invoices') }}
),

renamed as (
    select
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(provider as {{ dbt.type_string() }}) as provider,
        cast(period_start_date as date) as period_start_date,
        cast(period_end_date as date) as period_end_date,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(usage_subtotal as {{ llmeter.type_usd() }}) as usage_subtotal_usd,
        cast(credits as {{ llmeter.type_usd() }}) as credits_usd,
        cast(tax as {{ llmeter.type_usd() }}) as tax_usd,
        cast(total as {{ llmeter.type_usd() }}) as total_usd,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_line as {{ dbt.type_bigint() }}) as source_line,
        {{ llmeter.utc_timestamp('source_file_modified_at') }} as source_file_modified_at
    from source
)

select * from renamed
