{#
    A source table, or an empty relation with the same columns while the table does not exist.

    dlt creates a raw table only when its source first loads rows, so a source that is not
    configured (no admin key, no folder) has no table, and a staging view that selects from it
    would fail the whole build. This macro calls `source()`, which records the model's
    dependency on the source (lineage, docs and selectors such as `source:openai+`), and
    returns that relation when the table exists. Otherwise it returns a subquery without rows
    whose columns are the table's columns in the sources yml, in their order there, each cast
    to its `data_type` (the warehouse's type name, as a model contract writes it).

    Only a missing table gets the empty relation. A table that exists is returned as it is, so
    a column declared in the yml but missing from the table still fails the build. A missing
    table whose yml declares no columns, or a column without a `data_type`, is a compilation
    error that names the table and the column.

    NOTE: the subquery has no alias, which DuckDB accepts in a `from` clause. An engine that
    requires an alias on a derived table needs its own implementation of this macro.
#}
{% macro source_or_empty(source_name, table_name) -%}
    {{ return(adapter.dispatch('source_or_empty', 'llmeter')(source_name, table_name)) }}
{%- endmacro %}

{% macro default__source_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {#-
        At parse time nothing is queried: `source()` above records the dependency. In a unit
        test `source()` returns the CTE of the test's fixture rows, which is used as it is.
    -#}
    {%- if not execute or relation.is_cte or load_relation(relation) is not none -%}
        {{ return(relation) }}
    {%- endif -%}

    {%- set source_nodes = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | list -%}
    {%- set columns = source_nodes[0].columns.values() | list -%}
    {%- if columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "Source " ~ source_name ~ "." ~ table_name ~ ": the table " ~ relation
            ~ " does not exist and its sources yml declares no columns, so no empty relation"
            ~ " can replace it. Declare each column the staging model reads, with its"
            ~ " data_type."
        ) }}
    {%- endif -%}
    {%- for column in columns if not column.data_type -%}
        {{ exceptions.raise_compiler_error(
            "Source " ~ source_name ~ "." ~ table_name ~ ": the table " ~ relation
            ~ " does not exist and column " ~ column.name ~ " has no data_type in the sources"
            ~ " yml, so the empty relation that replaces the table cannot be typed. Add the"
            ~ " column's data_type."
        ) }}
    {%- endfor -%}

    {%- do log(
        "Source " ~ source_name ~ "." ~ table_name ~ ": " ~ relation
        ~ " does not exist yet, so " ~ this ~ " reads an empty relation"
    ) -%}
    {%- set empty_relation -%}
        (
            select
            {%- for column in columns %}
                cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) if column.quote else column.name }}
                {{- "," if not loop.last }}
            {%- endfor %}
            where 1 = 0
        )
    {%- endset -%}
    {{ return(empty_relation) }}
{%- endmacro %}
