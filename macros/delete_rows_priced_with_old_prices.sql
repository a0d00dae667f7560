{#
    A pre-hook for incremental models that store the fingerprint of the price list they were
    priced with: when any stored row has a fingerprint other than the current one, delete every
    row, so that the model's incremental filter selects the whole history again and no call
    keeps a price that a seed change has replaced. Renders nothing on a full build.
#}
{% macro delete_rows_priced_with_old_prices(fingerprint_relation) -%}
    {{ return(adapter.dispatch('delete_rows_priced_with_old_prices', 'llmeter')(fingerprint_relation)) }}
{%- endmacro %}

{% macro default__delete_rows_priced_with_old_prices(fingerprint_relation) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where exists (
            select 1
            from {{ this }} as priced
            where priced.price_list_fingerprint <> (
                select current_prices.price_list_fingerprint
                from {{ fingerprint_relation }} as current_prices
            )
        )
    {%- endif -%}
{%- endmacro %}
