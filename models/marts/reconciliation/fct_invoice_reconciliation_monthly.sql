{#
    The reconciliation by calendar month, for accounts whose statements follow calendar months
    (prepaid-credit accounts get one statement per month). An invoice counts in the month of its
    `period_start_date`, and the usage amounts cover every day of the month. Where an account's
    invoice periods do not follow calendar months, `is_calendar_month_aligned` is false and the
    per-invoice `fct_invoice_reconciliation` is the one to read.
#}

with

invoices as (
    select
        invoice_id,
        provider,
        period_start_date,
        period_end_date,
        usage_subtotal_usd
    from {{ ref('stg_invoices__invoices') }}
),

costs_daily as (
    select
        provider,
        usage_date,
        has_billed_cost,
        billed_cost_usd,
        allocated_cost_usd,
        unattributed_cost_usd,
        list_cost_usd
    from {{ ref('int_reconciliation_costs_daily') }}
),

tolerances as (
    select
        provider,
        absolute_tolerance_usd,
        relative_tolerance_pct
    from {{ ref('reconciliation_tolerances') }}
),

costs_monthly as (
    select
        provider,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as month_start_date,
        count(*) as usage_days,
        sum(case when has_billed_cost then 1 else 0 end) as billed_cost_days,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(allocated_cost_usd) as allocated_cost_usd,
        sum(unattributed_cost_usd) as unattributed_cost_usd,
        sum(list_cost_usd) as list_cost_usd
    from costs_daily
    group by provider, cast({{ dbt.date_trunc('month', 'usage_date') }} as date)
),

invoices_monthly as (
    select
        provider,
        cast({{ dbt.date_trunc('month', 'period_start_date') }} as date) as month_start_date,
        count(*) as invoice_count,
        min(period_start_date) as first_period_start_date,
        max(period_end_date) as last_period_end_date,
        sum(
            {{ dbt.datediff('period_start_date', 'period_end_date', 'day') }} + 1
        ) as invoiced_days,
        sum(usage_subtotal_usd) as usage_subtotal_usd
    from invoices
    group by provider, cast({{ dbt.date_trunc('month', 'period_start_date') }} as date)
),

months as (
    select
        invoices_monthly.first_period_start_date,
        invoices_monthly.last_period_end_date,
        invoices_monthly.usage_subtotal_usd,
        coalesce(costs_monthly.provider, invoices_monthly.provider) as provider,
        coalesce(costs_monthly.month_start_date, invoices_monthly.month_start_date)
            as month_start_date,
        coalesce(costs_monthly.usage_days, 0) as usage_days,
        coalesce(costs_monthly.billed_cost_days, 0) as billed_cost_days,
        coalesce(costs_monthly.billed_cost_usd, 0) as billed_cost_usd,
        coalesce(costs_monthly.allocated_cost_usd, 0) as allocated_cost_usd,
        coalesce(costs_monthly.unattributed_cost_usd, 0) as unattributed_cost_usd,
        coalesce(costs_monthly.list_cost_usd, 0) as list_cost_usd,
        coalesce(invoices_monthly.invoice_count, 0) as invoice_count,
        coalesce(invoices_monthly.invoiced_days, 0) as invoiced_days
    from costs_monthly
    full outer join invoices_monthly
        on
            costs_monthly.provider = invoices_monthly.provider
            and costs_monthly.month_start_date = invoices_monthly.month_start_date
),

-- the provider's tolerance settings, or the defaults for a provider the seed does not list
month_tolerance_settings as (
    select
        months.provider,
        months.month_start_date,
        coalesce(
            tolerances.absolute_tolerance_usd,
            cast({{ var('reconciliation_tolerance_usd', 1) }} as {{ llmeter.type_usd() }})
        ) as absolute_tolerance_usd,
        -- a narrow type, so that multiplying a DECIMAL(38, 18) amount by it cannot overflow
        cast(
            coalesce(
                tolerances.relative_tolerance_pct,
                {{ var('reconciliation_tolerance_pct', 0.5) }}
            ) * 0.01 as decimal(18, 8)
        ) as relative_tolerance_ratio
    from months
    left join tolerances
        on months.provider = tolerances.provider
),

month_differences as (
    select
        months.*,
        {{ dbt.last_day('months.month_start_date', 'month') }} as month_end_date,
        months.billed_cost_usd - months.usage_subtotal_usd as billed_difference_usd,
        months.allocated_cost_usd - months.usage_subtotal_usd as allocated_difference_usd,
        months.list_cost_usd - months.usage_subtotal_usd as list_difference_usd,
        case
            when months.invoice_count > 0
                then
                    greatest(
                        month_tolerance_settings.absolute_tolerance_usd,
                        cast(
                            months.usage_subtotal_usd
                            * month_tolerance_settings.relative_tolerance_ratio
                            as {{ llmeter.type_usd() }}
                        )
                    )
        end as tolerance_usd
    from months
    inner join month_tolerance_settings
        on
            months.provider = month_tolerance_settings.provider
            and months.month_start_date = month_tolerance_settings.month_start_date
),

month_statuses as (
    select
        *,
        abs(billed_difference_usd) <= tolerance_usd as is_billed_within_tolerance,
        abs(allocated_difference_usd) <= tolerance_usd as is_allocated_within_tolerance,
        coalesce(
            invoice_count > 0
            and first_period_start_date = month_start_date
            and last_period_end_date = month_end_date
            and invoiced_days = {{ dbt.datediff('month_start_date', 'month_end_date', 'day') }} + 1,
            false
        ) as is_calendar_month_aligned,
        case
            when invoice_count = 0 then 'pending'
            when usage_days = 0 and usage_subtotal_usd != 0 then 'invoice_without_usage'
            when
                abs(billed_difference_usd) > tolerance_usd
                or abs(allocated_difference_usd) > tolerance_usd
                then 'out_of_tolerance'
            else 'reconciled'
        end as status
    from month_differences
),

final as (
    select
        {{ llmeter.surrogate_key(['provider', 'month_start_date']) }} as reconciliation_month_id,
        provider,
        month_start_date,
        month_end_date,
        cast(invoice_count as integer) as invoice_count,
        cast(invoiced_days as integer) as invoiced_days,
        is_calendar_month_aligned,
        cast(usage_days as integer) as usage_days,
        cast(billed_cost_days as integer) as billed_cost_days,
        cast(usage_subtotal_usd as {{ llmeter.type_usd() }}) as invoice_usage_subtotal_usd,
        cast(billed_cost_usd as {{ llmeter.type_usd() }}) as billed_cost_usd,
        cast(allocated_cost_usd as {{ llmeter.type_usd() }}) as allocated_cost_usd,
        cast(unattributed_cost_usd as {{ llmeter.type_usd() }}) as unattributed_cost_usd,
        case
            when allocated_cost_usd != 0
                then
                    cast(unattributed_cost_usd as {{ dbt.type_float() }}) * 100
                    / cast(allocated_cost_usd as {{ dbt.type_float() }})
        end as unattributed_pct,
        cast(list_cost_usd as {{ llmeter.type_usd() }}) as list_cost_usd,
        cast(billed_difference_usd as {{ llmeter.type_usd() }}) as billed_difference_usd,
        case
            when usage_subtotal_usd != 0
                then
                    cast(billed_difference_usd as {{ dbt.type_float() }}) * 100
                    / cast(usage_subtotal_usd as {{ dbt.type_float() }})
        end as billed_difference_pct,
        cast(allocated_difference_usd as {{ llmeter.type_usd() }}) as allocated_difference_usd,
        case
            when usage_subtotal_usd != 0
                then
                    cast(allocated_difference_usd as {{ dbt.type_float() }}) * 100
                    / cast(usage_subtotal_usd as {{ dbt.type_float() }})
        end as allocated_difference_pct,
        cast(list_difference_usd as {{ llmeter.type_usd() }}) as list_difference_usd,
        cast(tolerance_usd as {{ llmeter.type_usd() }}) as tolerance_usd,
        is_billed_within_tolerance,
        is_allocated_within_tolerance,
        status
    from month_statuses
)

select * from final
