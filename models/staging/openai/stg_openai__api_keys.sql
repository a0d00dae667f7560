with source as (
    select
        id,
        project_id,
        name,
        created_at,
        last_used_at,
        owner__type,
        extracted_at
    from {{ llmeter.source_or_empty('openai', 'api_keys') }}
),

final as (
    select
        id as api_key_id,
        project_id,
        name as api_key_name,
        owner__type as owner_type,
        {{ llmeter.utc_timestamp('created_at') }} as created_at,
        {{ llmeter.utc_timestamp('last_used_at') }} as last_used_at,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
)

select * from final
