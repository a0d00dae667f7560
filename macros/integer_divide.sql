{#
    Integer division that truncates toward zero for non-negative operands and never passes
    through a floating-point type.
#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide', 'llmeter')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    cast(floor(({{ numerator }}) / ({{ denominator }})) as {{ llmeter.type_big_integer() }})
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (cast({{ numerator }} as hugeint) // cast({{ denominator }} as hugeint))
{%- endmacro %}
