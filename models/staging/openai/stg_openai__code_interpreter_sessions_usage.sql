with source as (
    select
        bucket_start_at,
        project_id,
        num_sessions,
        extracted_at
    from {{ llmeter.source_or_empty('openai', 'usage_code_interpreter_sessions') }}
),

final as (
    select
        {{ llmeter.utc_date('bucket_start_at') }} as usage_date,
        {{ llmeter.utc_timestamp('bucket_start_at') }} as bucket_start_at,
        coalesce(project_id, '(not grouped)') as project_id,
        coalesce(num_sessions, 0) as sessions,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
)

select * from final
