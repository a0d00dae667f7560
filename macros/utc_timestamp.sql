{#
    A timestamp without time zone that holds the UTC wall-clock time of the input, which may be a
    TIMESTAMPTZ (as dlt loads it) or a timestamp already in UTC.
#}
{% macro utc_timestamp(timestamp_expression) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'llmeter')(timestamp_expression)) }}
{%- endmacro %}

{% macro default__utc_timestamp(timestamp_expression) -%}
    cast({{ timestamp_expression }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__utc_timestamp(timestamp_expression) -%}
    timezone('UTC', cast({{ timestamp_expression }} as timestamptz))
{%- endmacro %}
