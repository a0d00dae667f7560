{#
    The run's "today" as a DATE: the var as_of_date (set from LLMETER_AS_OF) or else the current
    UTC date. Days on or after it are incomplete and never judged or billed as whole days.
#}
{% macro as_of_date() -%}
    {{ return(adapter.dispatch('as_of_date', 'llmeter')()) }}
{%- endmacro %}

{% macro default__as_of_date() -%}
    {%- set configured = var('as_of_date', '') -%}
    {%- if configured -%}
        cast('{{ configured }}' as date)
    {%- else -%}
        cast({{ llmeter.utc_timestamp(dbt.current_timestamp()) }} as date)
    {%- endif -%}
{%- endmacro %}
