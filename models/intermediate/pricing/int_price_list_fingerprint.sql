{#
    One row: an md5 fingerprint of every price and model alias that pricing reads. A change to
    any price seed, multiplier, contract price or alias changes it, and
    int_llm_calls_priced then re-prices its whole history (see the macro
    delete_rows_priced_with_old_prices).
#}

with

prices as (
    select
        price_key,
        price_usd,
        unit,
        valid_to_at
    from {{ ref('int_model_prices') }}
),

aliases as (
    select
        provider,
        alias,
        model
    from {{ ref('model_aliases') }}
),

price_lines as (
    select
        price_key as sort_key,
        {{ dbt.concat([
            'price_key', "'|'",
            'cast(price_usd as ' ~ dbt.type_string() ~ ')', "'|'",
            'unit', "'|'",
            "coalesce(cast(valid_to_at as " ~ dbt.type_string() ~ "), '')",
        ]) }} as fingerprint_line
    from prices
),

alias_lines as (
    select
        {{ dbt.concat(['provider', "'|'", 'alias']) }} as sort_key,
        {{ dbt.concat(['provider', "'|'", 'alias', "'|'", 'model']) }} as fingerprint_line
    from aliases
),

all_lines as (
    select
        'price' as line_kind,
        sort_key,
        fingerprint_line
    from price_lines

    union all

    select
        'alias' as line_kind,
        sort_key,
        fingerprint_line
    from alias_lines
),

final as (
    select
        md5(
            coalesce({{ dbt.listagg('fingerprint_line', "'\\n'", 'order by line_kind, sort_key') }}, '')
        ) as price_list_fingerprint,
        count(*) as line_count
    from all_lines
)

select * from final
