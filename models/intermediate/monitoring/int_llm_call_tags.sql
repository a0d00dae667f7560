{#
    One row per tagged call (fct_llm_calls) and tag key it carries, values as text. The tags
    come from the call log (stg_call_logs__llm_calls, unique by event_id), because
    fct_llm_calls does not carry them. A call without tags has no rows here.

    Incremental by UTC day: a run rebuilds the days of the calls priced since this model's last
    build (macro days_priced_since_last_build).
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='usage_date',
    on_schema_change='fail',
) }}

with tagged_calls as (
    select
        event_id,
        usage_date,
        provider,
        priced_at
    from {{ ref('fct_llm_calls') }}
    where {{ llmeter.days_priced_since_last_build(ref('int_llm_calls_priced')) }}
),

call_log_tags as (
    select
        event_id,
        tags
    from {{ ref('stg_call_logs__llm_calls') }}
    where
        tags is not null
        and {{ llmeter.days_priced_since_last_build(ref('int_llm_calls_priced')) }}
),

calls as (
    select
        tagged_calls.event_id,
        tagged_calls.usage_date,
        tagged_calls.provider,
        tagged_calls.priced_at,
        call_log_tags.tags
    from tagged_calls
    inner join call_log_tags
        on tagged_calls.event_id = call_log_tags.event_id
),

tag_entries as (
    {{ llmeter.json_object_entries('calls', 'tags') }}
),

final as (
    select
        event_id,
        usage_date,
        provider,
        json_key as tag_key,
        json_value as tag_value,
        priced_at
    from tag_entries
)

select * from final
