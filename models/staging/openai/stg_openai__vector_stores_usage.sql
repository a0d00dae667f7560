with source as (
    select
        bucket_start_at,
        project_id,
        usage_bytes,
        extracted_at
    from {{ llmeter.source_or_empty('openai', 'usage_vector_stores') }}
),

final as (
    select
        {{ llmeter.utc_date('bucket_start_at') }} as usage_date,
        {{ llmeter.utc_timestamp('bucket_start_at') }} as bucket_start_at,
        coalesce(project_id, '(not grouped)') as project_id,
        coalesce(usage_bytes, 0) as usage_bytes,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
)

select * from final
