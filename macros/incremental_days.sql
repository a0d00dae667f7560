{#
    The models downstream of int_llm_calls_priced that grow with the call history are
    incremental by UTC day: each run rebuilds the days that hold a call priced since the model's
    own last build. int_llm_calls_priced re-prices the look-back days, the late call logs, the
    days of `llmeter run --since/--until` and, after a price change, every call, so these are
    the days whose inputs can have changed. Each model keeps the `priced_at` of the calls it
    read, which makes the rule hold after a run that failed halfway, too.

    NOTE: a provider's restated cost reaches int_llm_calls_allocated only for days that are also
    re-priced, so a provider look-back (SOURCES__<PROVIDER>__LOOKBACK_DAYS) longer than
    `call_logs_lookback_days` needs the var raised to match. The daily models that read these
    (allocation, daily costs and margins, anomaly scores) are still rebuilt in full every run.
#}

{#- The start time of this dbt invocation, UTC, as a TIMESTAMP literal. -#}
{% macro run_started_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#-
    A condition on `date_column` that keeps, in an incremental run, the days of the calls in
    `priced_calls` (a relation with usage_date and priced_at) priced after the latest
    `priced_at` of the model being built; `true` in a full build.
-#}
{% macro days_priced_since_last_build(priced_calls, date_column='usage_date') -%}
    {%- if is_incremental() -%}
        {{ date_column }} in (
            select distinct repriced.usage_date
            from {{ priced_calls }} as repriced
            where repriced.priced_at > (
                select coalesce(max(built.priced_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
                from {{ this }} as built
            )
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#-
    Generic tests on the models named in the var `latest_days_tested_models` read only the days
    that the latest run rebuilt or loaded: the days of the rows whose marker column (priced_at,
    or loaded_at for the call-log staging model) holds its latest value. A full build writes
    every row at once, so its tests read every row; the var `test_all_days: true` makes every
    run test every row. An explicit `where` config of the test still applies.
-#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set marker = var('latest_days_tested_models', {}).get(relation.identifier) -%}
    {%- set latest_days_only = marker and not var('test_all_days', false) -%}
    {%- if not where and not latest_days_only -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if latest_days_only -%}
        {%- do conditions.append(
            'usage_date in (select distinct latest.usage_date from ' ~ relation ~ ' as latest '
            ~ 'where latest.' ~ marker ~ ' = (select max(newest.' ~ marker ~ ') from '
            ~ relation ~ ' as newest))'
        ) -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}
