with source as (
    select
        bucket_start_at,
        project_id,
        user_id,
        api_key_id,
        model,
        seconds,
        num_model_requests,
        extracted_at
    from {{ llmeter.source_or_empty('openai', 'usage_audio_transcriptions') }}
),

final as (
    select
        {{ llmeter.utc_date('bucket_start_at') }} as usage_date,
        {{ llmeter.utc_timestamp('bucket_start_at') }} as bucket_start_at,
        coalesce(project_id, '(not grouped)') as project_id,
        coalesce(user_id, '(not grouped)') as user_id,
        coalesce(api_key_id, '(not grouped)') as api_key_id,
        coalesce(model, '(not grouped)') as model,
        coalesce(seconds, 0) as audio_seconds,
        coalesce(num_model_requests, 0) as requests,
        {{ llmeter.utc_timestamp('extracted_at') }} as extracted_at
    from source
)

select * from final
