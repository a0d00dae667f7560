{#
    Integer wide enough for nano-dollar amounts multiplied by token counts (up to about 1e30),
    used by split_exact. DuckDB has HUGEINT; other engines fall back to DECIMAL(38, 0).
#}
{% macro type_big_integer() -%}
    {{ return(adapter.dispatch('type_big_integer', 'llmeter')()) }}
{%- endmacro %}

{% macro default__type_big_integer() -%}
    decimal(38, 0)
{%- endmacro %}

{% macro duckdb__type_big_integer() -%}
    hugeint
{%- endmacro %}
