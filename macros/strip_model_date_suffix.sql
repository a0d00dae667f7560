{#
    A model name without its snapshot date: `-YYYY-MM-DD` (OpenAI), `-YYYYMMDD` (Anthropic) or
    `@YYYYMMDD` (Google Vertex AI) at the end of the name. A name without such a suffix is
    returned unchanged.
#}
{% macro strip_model_date_suffix(model_expression) -%}
    {{ return(adapter.dispatch('strip_model_date_suffix', 'llmeter')(model_expression)) }}
{%- endmacro %}

{% macro default__strip_model_date_suffix(model_expression) -%}
    regexp_replace({{ model_expression }}, '(-[0-9]{4}-[0-9]{2}-[0-9]{2}|-[0-9]{8}|@[0-9]{8})$', '')
{%- endmacro %}
