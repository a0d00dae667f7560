{#
    Compares each provider invoice's usage subtotal with three amounts over the same UTC days:
    the provider's own cost data (the figure that reconciles to an invoice), the cost allocated
    to customers (which must add up to it), and the list-price estimate of the tagged calls.

    Days of usage that no invoice of the provider covers are grouped by calendar month into
    `pending` rows: the invoice has not arrived yet, which is not a failure.

    Caveats:
    - The list-price estimate covers only tagged calls at list prices, with no discounts and
      no non-token charges, so it never decides the status.
    - Days are UTC days. An invoice cut at midnight in another time zone differs by the usage
      of the boundary hours.
    - The hint columns (`likely_cause`, `missing_cost_dates`) are heuristics that name the most
      likely cause of a difference, not proof of it.
#}

with

invoices as (
    select
        invoice_id,
        provider,
        period_start_date,
        period_end_date,
        usage_subtotal_usd,
        credits_usd,
        tax_usd,
        total_usd
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

-- 0, 1, ..., 365: the loader rejects invoice periods longer than 366 days
day_offsets as (
    select cast(generated_number - 1 as integer) as day_offset
    from ({{ dbt.generate_series(366) }}) as series
),

-- one row per day of each invoice period
invoice_days as (
    select
        invoices.invoice_id,
        invoices.provider,
        cast(
            {{ dbt.dateadd('day', 'day_offsets.day_offset', 'invoices.period_start_date') }} as date
        ) as usage_date
    from invoices
    inner join day_offsets
        on
            day_offsets.day_offset
            <= {{ dbt.datediff('invoices.period_start_date', 'invoices.period_end_date', 'day') }}
),

-- each invoice day with its costs and the provider's cost data of the days before and after
invoice_days_costs as (
    select
        invoice_days.invoice_id,
        invoice_days.provider,
        invoice_days.usage_date,
        previous_day.billed_cost_usd as previous_day_billed_cost_usd,
        next_day.billed_cost_usd as next_day_billed_cost_usd,
        costs_daily.usage_date is not null as has_usage,
        coalesce(costs_daily.has_billed_cost, false) as has_billed_cost,
        coalesce(costs_daily.billed_cost_usd, 0) as billed_cost_usd,
        coalesce(costs_daily.allocated_cost_usd, 0) as allocated_cost_usd,
        coalesce(costs_daily.unattributed_cost_usd, 0) as unattributed_cost_usd,
        coalesce(costs_daily.list_cost_usd, 0) as list_cost_usd
    from invoice_days
    left join costs_daily
        on
            invoice_days.provider = costs_daily.provider
            and invoice_days.usage_date = costs_daily.usage_date
    left join costs_daily as previous_day
        on
            invoice_days.provider = previous_day.provider
            and previous_day.has_billed_cost
            and cast({{ dbt.dateadd('day', 1, 'previous_day.usage_date') }} as date)
            = invoice_days.usage_date
    left join costs_daily as next_day
        on
            invoice_days.provider = next_day.provider
            and next_day.has_billed_cost
            and cast({{ dbt.dateadd('day', -1, 'next_day.usage_date') }} as date)
            = invoice_days.usage_date
),

-- a day whose cost data looks missing: no cost rows, although tagged calls ran that day or
-- both neighbouring days have cost
missing_cost_days as (
    select
        invoice_id,
        usage_date,
        -- the mean of the neighbouring days that have cost rows, or null when neither has any
        case
            when
                previous_day_billed_cost_usd is not null and next_day_billed_cost_usd is not null
                then (previous_day_billed_cost_usd + next_day_billed_cost_usd) * 0.5
            else coalesce(previous_day_billed_cost_usd, next_day_billed_cost_usd)
        end as estimated_cost_usd
    from invoice_days_costs
    where
        not has_billed_cost
        and (
            list_cost_usd > 0
            or (previous_day_billed_cost_usd > 0 and next_day_billed_cost_usd > 0)
        )
),

missing_cost_by_invoice as (
    select
        invoice_id,
        count(*) as missing_cost_day_count,
        min(usage_date) as first_missing_cost_date,
        {{ dbt.listagg(
            'cast(usage_date as ' ~ dbt.type_string() ~ ')',
            "', '",
            'order by usage_date',
        ) }} as missing_cost_dates,
        sum(estimated_cost_usd) as missing_cost_estimated_usd
    from missing_cost_days
    group by invoice_id
),

costs_by_invoice as (
    select
        invoice_id,
        count(*) as period_days,
        sum(case when has_usage then 1 else 0 end) as usage_days,
        sum(case when has_billed_cost then 1 else 0 end) as billed_cost_days,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(allocated_cost_usd) as allocated_cost_usd,
        sum(unattributed_cost_usd) as unattributed_cost_usd,
        sum(list_cost_usd) as list_cost_usd
    from invoice_days_costs
    group by invoice_id
),

-- the provider's tolerance settings, or the defaults for a provider the seed does not list
invoice_tolerance_settings as (
    select
        invoices.invoice_id,
        invoices.usage_subtotal_usd,
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
    from invoices
    left join tolerances
        on invoices.provider = tolerances.provider
),

invoice_tolerances as (
    select
        invoice_id,
        greatest(
            absolute_tolerance_usd,
            cast(usage_subtotal_usd * relative_tolerance_ratio as {{ llmeter.type_usd() }})
        ) as tolerance_usd
    from invoice_tolerance_settings
),

-- two invoices of one provider that cover a common day count that day's usage twice
overlapping_invoices as (
    select distinct invoices.invoice_id
    from invoices
    inner join invoices as other_invoices
        on
            invoices.provider = other_invoices.provider
            and invoices.invoice_id != other_invoices.invoice_id
            and invoices.period_start_date <= other_invoices.period_end_date
            and invoices.period_end_date >= other_invoices.period_start_date
),

invoice_differences as (
    select
        invoices.invoice_id,
        invoices.provider,
        invoices.period_start_date,
        invoices.period_end_date,
        costs_by_invoice.period_days,
        costs_by_invoice.usage_days,
        costs_by_invoice.billed_cost_days,
        invoices.usage_subtotal_usd,
        invoices.credits_usd,
        invoices.tax_usd,
        invoices.total_usd,
        costs_by_invoice.billed_cost_usd,
        costs_by_invoice.allocated_cost_usd,
        costs_by_invoice.unattributed_cost_usd,
        costs_by_invoice.list_cost_usd,
        invoice_tolerances.tolerance_usd,
        missing_cost_by_invoice.missing_cost_day_count,
        missing_cost_by_invoice.first_missing_cost_date,
        missing_cost_by_invoice.missing_cost_dates,
        missing_cost_by_invoice.missing_cost_estimated_usd,
        costs_by_invoice.billed_cost_usd - invoices.usage_subtotal_usd as billed_difference_usd,
        costs_by_invoice.allocated_cost_usd
        - invoices.usage_subtotal_usd as allocated_difference_usd,
        costs_by_invoice.list_cost_usd - invoices.usage_subtotal_usd as list_difference_usd,
        overlapping_invoices.invoice_id is not null as has_overlapping_invoice
    from invoices
    inner join costs_by_invoice
        on invoices.invoice_id = costs_by_invoice.invoice_id
    inner join invoice_tolerances
        on invoices.invoice_id = invoice_tolerances.invoice_id
    left join missing_cost_by_invoice
        on invoices.invoice_id = missing_cost_by_invoice.invoice_id
    left join overlapping_invoices
        on invoices.invoice_id = overlapping_invoices.invoice_id
),

invoice_statuses as (
    select
        *,
        abs(billed_difference_usd) <= tolerance_usd as is_billed_within_tolerance,
        abs(allocated_difference_usd) <= tolerance_usd as is_allocated_within_tolerance,
        case
            when usage_days = 0 and usage_subtotal_usd != 0 then 'invoice_without_usage'
            when
                abs(billed_difference_usd) > tolerance_usd
                or abs(allocated_difference_usd) > tolerance_usd
                then 'out_of_tolerance'
            else 'reconciled'
        end as status
    from invoice_differences
),

-- the day whose billed cost is closest to the difference, where one is within tolerance of it
one_day_matches as (
    select
        invoice_statuses.invoice_id,
        invoice_days_costs.usage_date,
        row_number() over (
            partition by invoice_statuses.invoice_id
            order by
                abs(invoice_days_costs.billed_cost_usd - abs(invoice_statuses.billed_difference_usd)),
                invoice_days_costs.usage_date
        ) as match_rank
    from invoice_statuses
    inner join invoice_days_costs
        on invoice_statuses.invoice_id = invoice_days_costs.invoice_id
    where
        invoice_statuses.status = 'out_of_tolerance'
        and invoice_days_costs.billed_cost_usd > 0
        and abs(invoice_days_costs.billed_cost_usd - abs(invoice_statuses.billed_difference_usd))
        <= invoice_statuses.tolerance_usd
),

invoice_causes as (
    select
        invoice_statuses.*,
        one_day_matches.usage_date as one_day_match_date,
        case
            when invoice_statuses.status != 'out_of_tolerance' then null
            -- an amount about 100 times the other: cents read as dollars, or the reverse
            when
                invoice_statuses.billed_cost_usd
                between invoice_statuses.usage_subtotal_usd * 95 and invoice_statuses.usage_subtotal_usd * 105
                or invoice_statuses.usage_subtotal_usd
                between invoice_statuses.billed_cost_usd * 95 and invoice_statuses.billed_cost_usd * 105
                or invoice_statuses.allocated_cost_usd
                between invoice_statuses.usage_subtotal_usd * 95 and invoice_statuses.usage_subtotal_usd * 105
                or invoice_statuses.usage_subtotal_usd
                between invoice_statuses.allocated_cost_usd * 95 and invoice_statuses.allocated_cost_usd * 105
                then 'cents_dollars_mixup'
            -- cost data below the invoice by about the estimated cost of the days it lacks
            when
                invoice_statuses.missing_cost_day_count > 0
                and invoice_statuses.billed_difference_usd < 0
                and (
                    invoice_statuses.missing_cost_estimated_usd is null
                    or invoice_statuses.missing_cost_estimated_usd
                    between -invoice_statuses.billed_difference_usd * 0.5
                    and -invoice_statuses.billed_difference_usd * 1.5
                )
                then 'missing_cost_day'
            when one_day_matches.usage_date is not null then 'one_day_difference'
        end as likely_cause
    from invoice_statuses
    left join one_day_matches
        on
            invoice_statuses.invoice_id = one_day_matches.invoice_id
            and one_day_matches.match_rank = 1
),

invoice_rows as (
    select
        provider,
        invoice_id,
        period_start_date,
        period_end_date,
        period_days,
        usage_days,
        billed_cost_days,
        usage_subtotal_usd,
        credits_usd,
        tax_usd,
        total_usd,
        billed_cost_usd,
        allocated_cost_usd,
        unattributed_cost_usd,
        list_cost_usd,
        billed_difference_usd,
        allocated_difference_usd,
        list_difference_usd,
        tolerance_usd,
        is_billed_within_tolerance,
        is_allocated_within_tolerance,
        status,
        likely_cause,
        missing_cost_dates,
        missing_cost_estimated_usd,
        has_overlapping_invoice,
        case
            when likely_cause = 'missing_cost_day' then first_missing_cost_date
            when likely_cause = 'one_day_difference' then one_day_match_date
        end as likely_cause_date
    from invoice_causes
),

-- one row per provider and day with usage that no invoice of the provider covers
uncovered_days as (
    select
        costs_daily.provider,
        costs_daily.usage_date,
        costs_daily.has_billed_cost,
        costs_daily.billed_cost_usd,
        costs_daily.allocated_cost_usd,
        costs_daily.unattributed_cost_usd,
        costs_daily.list_cost_usd
    from costs_daily
    left join invoices
        on
            costs_daily.provider = invoices.provider
            and costs_daily.usage_date between invoices.period_start_date and invoices.period_end_date
    where invoices.invoice_id is null
),

pending_months as (
    select
        provider,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start_date,
        count(*) as usage_days,
        sum(case when has_billed_cost then 1 else 0 end) as billed_cost_days,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(allocated_cost_usd) as allocated_cost_usd,
        sum(unattributed_cost_usd) as unattributed_cost_usd,
        sum(list_cost_usd) as list_cost_usd
    from uncovered_days
    group by provider, cast({{ dbt.date_trunc('month', 'usage_date') }} as date)
),

pending_rows as (
    select
        provider,
        cast(null as {{ dbt.type_string() }}) as invoice_id,
        period_start_date,
        {{ dbt.last_day('period_start_date', 'month') }} as period_end_date,
        {{ dbt.datediff('period_start_date', dbt.last_day('period_start_date', 'month'), 'day') }}
        + 1 as period_days,
        usage_days,
        billed_cost_days,
        cast(null as {{ llmeter.type_usd() }}) as usage_subtotal_usd,
        cast(null as {{ llmeter.type_usd() }}) as credits_usd,
        cast(null as {{ llmeter.type_usd() }}) as tax_usd,
        cast(null as {{ llmeter.type_usd() }}) as total_usd,
        billed_cost_usd,
        allocated_cost_usd,
        unattributed_cost_usd,
        list_cost_usd,
        cast(null as {{ llmeter.type_usd() }}) as billed_difference_usd,
        cast(null as {{ llmeter.type_usd() }}) as allocated_difference_usd,
        cast(null as {{ llmeter.type_usd() }}) as list_difference_usd,
        cast(null as {{ llmeter.type_usd() }}) as tolerance_usd,
        cast(null as boolean) as is_billed_within_tolerance,
        cast(null as boolean) as is_allocated_within_tolerance,
        'pending' as status,
        cast(null as {{ dbt.type_string() }}) as likely_cause,
        cast(null as {{ dbt.type_string() }}) as missing_cost_dates,
        cast(null as {{ llmeter.type_usd() }}) as missing_cost_estimated_usd,
        false as has_overlapping_invoice,
        cast(null as date) as likely_cause_date
    from pending_months
),

all_rows as (
    select * from invoice_rows
    union all
    select * from pending_rows
),

final as (
    select
        {{ llmeter.surrogate_key(['provider', 'invoice_id', 'period_start_date', 'period_end_date']) }}
            as reconciliation_id,
        provider,
        invoice_id,
        period_start_date,
        period_end_date,
        cast(period_days as integer) as period_days,
        cast(usage_days as integer) as usage_days,
        cast(billed_cost_days as integer) as billed_cost_days,
        cast(usage_subtotal_usd as {{ llmeter.type_usd() }}) as invoice_usage_subtotal_usd,
        cast(credits_usd as {{ llmeter.type_usd() }}) as invoice_credits_usd,
        cast(tax_usd as {{ llmeter.type_usd() }}) as invoice_tax_usd,
        cast(total_usd as {{ llmeter.type_usd() }}) as invoice_total_usd,
        cast(billed_cost_usd as {{ llmeter.type_usd() }}) as billed_cost_usd,
        cast(allocated_cost_usd as {{ llmeter.type_usd() }}) as allocated_cost_usd,
        cast(unattributed_cost_usd as {{ llmeter.type_usd() }}) as unattributed_cost_usd,
        -- ratios are DOUBLE: a percentage is not money, and DuckDB divides DECIMALs as DOUBLE
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
        case
            when usage_subtotal_usd != 0
                then
                    cast(list_difference_usd as {{ dbt.type_float() }}) * 100
                    / cast(usage_subtotal_usd as {{ dbt.type_float() }})
        end as list_difference_pct,
        cast(tolerance_usd as {{ llmeter.type_usd() }}) as tolerance_usd,
        is_billed_within_tolerance,
        is_allocated_within_tolerance,
        status,
        likely_cause,
        likely_cause_date,
        missing_cost_dates,
        cast(missing_cost_estimated_usd as {{ llmeter.type_usd() }}) as missing_cost_estimated_usd,
        has_overlapping_invoice
    from all_rows
)

select * from final
