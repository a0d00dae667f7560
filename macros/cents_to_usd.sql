{#
    Convert an amount in US cents (a number or a decimal string) to US dollars by multiplying,
    because dividing DECIMALs in DuckDB returns DOUBLE.
#}
{% macro cents_to_usd(amount_cents) -%}
    {{ return(adapter.dispatch('cents_to_usd', 'llmeter')(amount_cents)) }}
{%- endmacro %}

{% macro default__cents_to_usd(amount_cents) -%}
    cast(cast({{ amount_cents }} as {{ llmeter.type_usd() }}) * 0.01 as {{ llmeter.type_usd() }})
{%- endmacro %}
