{#
    The ISO 8601 day of the week of a date: 1 for Monday through 7 for Sunday. The default counts
    days from Monday 2001-01-01 with dbt.datediff, so it needs no engine-specific date function.
#}
{% macro iso_day_of_week(date_expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'llmeter')(date_expression)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expression) -%}
    {%- set days_since_monday = dbt.datediff("cast('2001-01-01' as date)", date_expression, 'day') -%}
    (mod(mod({{ days_since_monday }}, 7) + 7, 7) + 1)
{%- endmacro %}

{% macro duckdb__iso_day_of_week(date_expression) -%}
    isodow({{ date_expression }})
{%- endmacro %}
