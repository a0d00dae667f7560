with source as (
    select
        id,
        name,
        created_at,
        archived_at,
        extracted_at
    from {{ llmeter.source_or_empty('anthropic', 'workspaces') }}
),

final as (
    select
        id as workspace_id,
        name as workspace_name,
        {{ llmeter.utc_timestamp('created_at') }} as created_at,
        {{ llmeter.utc_timestamp('archived_at') }} as archived_at,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
)

select * from final
