{#
    The calendar the monitoring models judge: every complete UTC day from the first day with a
    cost row to the day before the as-of date, whether anything ran that day or not, so that
    a day without calls counts as a day of zero cost.
#}

{%- set max_days = 16384 %}

with cost_days as (
    select min(usage_date) as first_usage_date
    from {{ ref('fct_customer_daily_costs') }}
),

-- NOTE: the calendar stops 16,384 days (about 44 years) after the first cost day.
day_numbers as (
    {{ dbt.generate_series(max_days) }}
),

calendar as (
    select
        cast(
            {{ dbt.dateadd('day', 'day_numbers.generated_number - 1', 'cost_days.first_usage_date') }}
            as date
        ) as usage_date
    from day_numbers
    cross join cost_days
),

final as (
    select usage_date
    from calendar
    where usage_date < {{ llmeter.as_of_date() }}
)

select * from final
