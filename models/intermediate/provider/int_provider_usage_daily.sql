{#
    The usage both providers report, in one long shape: one row per price component with a
    non-zero quantity. The grain matches `int_provider_costs_daily`, so that billed cost can be
    set against usage per model, component, tier and sub-account.

    Caveats:
    - OpenAI's usage API cannot separate long-context tokens, so its rows are all
      `context_tier = 'standard'`, while its cost rows keep `long` from the line item.
      Anthropic reports both.
    - Embeddings and moderations have no service tier dimension, so their batch usage counts
      as `standard`.
    - Model request counts are not a price component and stay in the staging models
      (`requests`); Anthropic's usage report has none.
    - Usage without a token or web-search price (images, audio, vector storage, code
      interpreter sessions, file search calls) stays in its staging model; its charges are the
      `other` rows of `int_provider_costs_daily`.
#}

with openai_completions as (
    select
        usage_date,
        model,
        service_tier,
        project_id,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        output_tokens
    from {{ ref('stg_openai__completions_usage') }}
),

openai_embeddings as (
    select
        usage_date,
        model,
        project_id,
        input_uncached_tokens
    from {{ ref('stg_openai__embeddings_usage') }}
),

openai_moderations as (
    select
        usage_date,
        model,
        project_id,
        input_uncached_tokens
    from {{ ref('stg_openai__moderations_usage') }}
),

openai_web_searches as (
    select
        usage_date,
        model,
        project_id,
        web_search_requests
    from {{ ref('stg_openai__web_search_calls_usage') }}
),

anthropic_messages as (
    select
        usage_date,
        model,
        service_tier,
        context_tier,
        workspace_id,
        input_uncached_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        output_tokens,
        web_search_requests
    from {{ ref('stg_anthropic__messages_usage') }}
),

-- one row per OpenAI usage group and price component
openai_components as (
    {% for component, column in [
        ('input_uncached', 'input_uncached_tokens'),
        ('cache_read', 'cache_read_tokens'),
        ('cache_write_5m', 'cache_write_5m_tokens'),
        ('output', 'output_tokens'),
    ] %}
        select
            usage_date,
            model,
            '{{ component }}' as price_component,
            service_tier,
            project_id as sub_account_id,
            {{ column }} as quantity,
            'tokens' as quantity_unit
        from openai_completions
        union all
    {% endfor %}
    select
        usage_date,
        model,
        'input_uncached' as price_component,
        'standard' as service_tier,
        project_id as sub_account_id,
        input_uncached_tokens as quantity,
        'tokens' as quantity_unit
    from openai_embeddings
    union all
    select
        usage_date,
        model,
        'input_uncached' as price_component,
        'standard' as service_tier,
        project_id as sub_account_id,
        input_uncached_tokens as quantity,
        'tokens' as quantity_unit
    from openai_moderations
    union all
    select
        usage_date,
        model,
        'web_search_request' as price_component,
        'standard' as service_tier,
        project_id as sub_account_id,
        web_search_requests as quantity,
        'requests' as quantity_unit
    from openai_web_searches
),

-- one row per Anthropic usage group and price component
anthropic_components as (
    {% for component, column, unit in [
        ('input_uncached', 'input_uncached_tokens', 'tokens'),
        ('cache_read', 'cache_read_tokens', 'tokens'),
        ('cache_write_5m', 'cache_write_5m_tokens', 'tokens'),
        ('cache_write_1h', 'cache_write_1h_tokens', 'tokens'),
        ('output', 'output_tokens', 'tokens'),
        ('web_search_request', 'web_search_requests', 'requests'),
    ] %}
        select
            usage_date,
            model,
            '{{ component }}' as price_component,
            service_tier,
            context_tier,
            workspace_id as sub_account_id,
            {{ column }} as quantity,
            '{{ unit }}' as quantity_unit
        from anthropic_messages
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

unioned as (
    select
        'openai' as provider,
        usage_date,
        model,
        price_component,
        service_tier,
        'standard' as context_tier,
        sub_account_id,
        quantity,
        quantity_unit
    from openai_components
    union all
    select
        'anthropic' as provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        quantity,
        quantity_unit
    from anthropic_components
),

aggregated as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        quantity_unit,
        cast(sum(quantity) as bigint) as quantity
    from unioned
    group by
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        quantity_unit
),

final as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        quantity,
        quantity_unit
    from aggregated
    where quantity <> 0
)

select * from final
