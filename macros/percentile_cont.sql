{#
    The continuous percentile of an expression within each group (aggregate): linear interpolation
    between the two nearest values, so the median of an even count is the mean of the middle two.
    DuckDB also accepts the ANSI form, but its own `quantile_cont` keeps the compiled SQL plain.
#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'llmeter')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}
