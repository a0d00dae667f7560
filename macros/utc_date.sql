{#
    The UTC calendar date of a timestamp, whatever the session time zone. DuckDB's date_trunc on a
    TIMESTAMPTZ follows the session's TimeZone setting, so convert to a UTC wall-clock timestamp
    first.
#}
{% macro utc_date(timestamp_expression) -%}
    {{ return(adapter.dispatch('utc_date', 'llmeter')(timestamp_expression)) }}
{%- endmacro %}

{% macro default__utc_date(timestamp_expression) -%}
    cast({{ timestamp_expression }} as date)
{%- endmacro %}

{% macro duckdb__utc_date(timestamp_expression) -%}
    cast({{ llmeter.utc_timestamp(timestamp_expression) }} as date)
{%- endmacro %}
