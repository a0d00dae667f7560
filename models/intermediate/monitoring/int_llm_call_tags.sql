{#
    One row per tagged call (fct_llm_calls) and tag key it carries, values as text. The tags
    come from the call log (stg_call_logs__llm_calls, unique by event_id), because
    fct_llm_calls does not carry them. A call without tags has no rows here.
#}

with tagged_calls as (
    select
        event_id,
        usage_date,
        provider
    from {{ ref('fct_llm_calls') }}
),

call_log_tags as (
    select
        event_id,
        tags
    from {{ ref('stg_call_logs__llm_calls') }}
    where tags is not null
),

calls as (
    select
        tagged_calls.event_id,
        tagged_calls.usage_date,
        tagged_calls.provider,
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
        json_value as tag_value
    from tag_entries
)

select * from final
