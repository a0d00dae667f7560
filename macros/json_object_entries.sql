{#
    A select statement over `relation` with one row per key of the JSON object held as text in
    `json_column`: every column of the relation plus `json_key` and `json_value` (the value as
    text; a JSON string loses its quotes). A row whose object is null or empty yields no rows.
    Reading JSON has no cross-database form, so each engine needs its own implementation.
#}
{% macro json_object_entries(relation, json_column) -%}
    {{ return(adapter.dispatch('json_object_entries', 'llmeter')(relation, json_column)) }}
{%- endmacro %}

{% macro default__json_object_entries(relation, json_column) -%}
    {{ exceptions.raise_compiler_error(
        "json_object_entries is not implemented for the " ~ adapter.type() ~ " adapter. "
        ~ "Add a macro " ~ adapter.type() ~ "__json_object_entries.") }}
{%- endmacro %}

{% macro duckdb__json_object_entries(relation, json_column) -%}
select
    json_source.*,
    json_entries.key as json_key,
    json_extract_string(json_entries.value, '$') as json_value
from {{ relation }} as json_source
cross join lateral json_each(json_source.{{ json_column }}) as json_entries
{%- endmacro %}
