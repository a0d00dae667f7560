{#
    List prices as the seeds state them (US dollars per million tokens, per thousand requests):
    DECIMAL(38, 12). A bare DECIMAL in DuckDB is DECIMAL(18, 3) and dbt.type_numeric() is
    DECIMAL(28, 6); both would round a price of $0.0000025.
#}
{% macro type_price() -%}
    {{ return(adapter.dispatch('type_price', 'llmeter')()) }}
{%- endmacro %}

{% macro default__type_price() -%}
    decimal(38, 12)
{%- endmacro %}
