{#
    The absolute value of an amount or count in integer pico-units (1e-12), truncated. Whole
    units and the fraction are scaled apart, so that any DECIMAL(38, 18) value fits the 38
    digits of the intermediate DECIMAL; the result is a big integer.
#}
{% macro to_pico(expression) -%}
    {{ return(adapter.dispatch('to_pico', 'llmeter')(expression)) }}
{%- endmacro %}

{% macro default__to_pico(expression) -%}
    {%- set big = llmeter.type_big_integer() -%}
    {%- set absolute = "abs(cast(" ~ expression ~ " as " ~ llmeter.type_usd() ~ "))" -%}
    (
        cast(floor({{ absolute }}) as {{ big }}) * 1000000000000
        + cast(floor(({{ absolute }} - floor({{ absolute }})) * 1000000000000) as {{ big }})
    )
{%- endmacro %}
