{#
    US-dollar amounts: DECIMAL(38, 18). Per-token prices are as small as $0.00000002, and a token
    count times such a price needs 18 decimal places to stay exact; 20 integer digits are left.
#}
{% macro type_usd() -%}
    {{ return(adapter.dispatch('type_usd', 'llmeter')()) }}
{%- endmacro %}

{% macro default__type_usd() -%}
    decimal(38, 18)
{%- endmacro %}
