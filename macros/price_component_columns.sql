{#
    The price components of a call and the token or request count column of each, in the order
    of the call's columns: a list of (price_component, quantity_column) pairs.
#}
{% macro price_component_columns() -%}
    {{ return([
        ('input_uncached', 'input_uncached_tokens'),
        ('cache_read', 'cache_read_tokens'),
        ('cache_write_5m', 'cache_write_5m_tokens'),
        ('cache_write_1h', 'cache_write_1h_tokens'),
        ('output', 'output_tokens'),
        ('web_search_request', 'web_search_requests'),
    ]) }}
{%- endmacro %}
