with source as (
    select
        id,
        name,
        workspace_id,
        status,
        created_at,
        expires_at,
        created_by__id,
        created_by__type,
        extracted_at
    from {{ llmeter.source_or_empty('anthropic', 'api_keys') }}
),

final as (
    select
        id as api_key_id,
        name as api_key_name,
        coalesce(workspace_id, '(default)') as workspace_id,
        status as api_key_status,
        created_by__id as created_by_id,
        created_by__type as created_by_type,
        {{ llmeter.utc_timestamp('created_at') }} as created_at,
        {{ llmeter.utc_timestamp('expires_at') }} as expires_at,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
)

select * from final
