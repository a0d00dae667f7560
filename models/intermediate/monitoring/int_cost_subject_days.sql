{#
    One row per judged subject (see int_cost_subject_models_daily) and complete day, from the
    subject's first day with a cost row on: a day without a row counts as zero cost and zero
    requests, so that a subject that stops shows as a drop.
#}

with subject_model_days as (
    select
        subject_type,
        subject_id,
        usage_date,
        requests,
        cost_usd
    from {{ ref('int_cost_subject_models_daily') }}
),

complete_days as (
    select usage_date
    from {{ ref('int_complete_days') }}
),

observed_days as (
    select
        subject_type,
        subject_id,
        usage_date,
        sum(requests) as requests,
        sum(cost_usd) as cost_usd
    from subject_model_days
    group by subject_type, subject_id, usage_date
),

subject_first_days as (
    select
        subject_type,
        subject_id,
        min(usage_date) as first_usage_date
    from observed_days
    group by subject_type, subject_id
),

subject_calendar as (
    select
        subject_first_days.subject_type,
        subject_first_days.subject_id,
        subject_first_days.first_usage_date,
        complete_days.usage_date
    from subject_first_days
    inner join complete_days
        on subject_first_days.first_usage_date <= complete_days.usage_date
),

final as (
    select
        subject_calendar.subject_type,
        subject_calendar.subject_id,
        subject_calendar.usage_date,
        subject_calendar.first_usage_date,
        coalesce(observed_days.requests, 0) as requests,
        coalesce(observed_days.cost_usd, cast(0 as {{ llmeter.type_usd() }})) as cost_usd
    from subject_calendar
    left join observed_days
        on
            subject_calendar.subject_type = observed_days.subject_type
            and subject_calendar.subject_id = observed_days.subject_id
            and subject_calendar.usage_date = observed_days.usage_date
)

select * from final
