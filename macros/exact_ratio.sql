{#
    The quotient of two amounts (DECIMAL money or integer counts) as a DECIMAL with `scale`
    decimal places, truncated toward zero. Both operands are taken in integer pico-units
    (1e-12) and divided as integers, so the ratio never passes through a floating-point type
    (dividing DECIMALs in DuckDB returns DOUBLE). Null when the denominator is 0 or smaller
    than 1e-12 in absolute value. Operands may be up to 1e20 in absolute value, the range of
    DECIMAL(38, 18).
#}
{% macro exact_ratio(numerator, denominator, scale=6) -%}
    {{ return(adapter.dispatch('exact_ratio', 'llmeter')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__exact_ratio(numerator, denominator, scale) -%}
    {%- set numerator_pico = llmeter.to_pico(numerator) -%}
    {%- set denominator_pico = llmeter.to_pico(denominator) -%}
    {%- set scale_factor = '1' ~ ('0' * scale) -%}
    {%- set unit = '1' if scale == 0 else '0.' ~ ('0' * (scale - 1)) ~ '1' -%}
    case
        when {{ denominator_pico }} = 0 then null
        else cast(
            sign({{ numerator }}) * sign({{ denominator }})
            * cast({{ llmeter.integer_divide(numerator_pico ~ ' * ' ~ scale_factor, denominator_pico) }} as decimal(38, 0))
            * {{ unit }}
            as decimal(38, {{ scale }})
        )
    end
{%- endmacro %}
