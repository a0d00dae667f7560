with source as (
    select
        id,
        name,
        status,
        created_at,
        archived_at,
        extracted_at
    from {{ llmeter.source_or_empty('openai', 'projects') }}
),

final as (
    select
        id as project_id,
        name as project_name,
        status as project_status,
        {{ llmeter.utc_timestamp('created_at') }} as created_at,
        {{ llmeter.utc_timestamp('archived_at') }} as archived_at,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
)

select * from final
