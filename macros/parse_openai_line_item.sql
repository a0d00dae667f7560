{#
    Parse the `line_item` strings of OpenAI's costs endpoint into the provider grain.

    Returns a select statement over `relation` with these columns added:
    - `model`: the model the line names, without a modality word (`gpt-audio-mini audio`
      becomes `gpt-audio-mini`); `(no model)` for a charge without one (`web search tool calls`).
    - `price_component`: `input_uncached` (`, input`), `cache_read` (`, cached input`),
      `cache_write_5m` (`, cache writes`), `output` (`, output`), `web_search_request`
      (`web search tool calls`), else `other`. Audio and image tokens are `other`, because
      their prices differ from text tokens.
    - `service_tier`: from a `batch | `, `priority | `, `flex | ` or `scale | ` prefix,
      `standard` without one.
    - `context_tier`: `long` for a `, long context` suffix, else `standard`.
    - `is_parsed`: false for a line item none of these formats matches, or with an unknown
      tier prefix; its price_component is then `other`, and it keeps whatever model and tier
      could be read.
    Columns whose names start with `_line_item_` are intermediate steps.

    Only dbt's cross-database string macros are used, so the parse runs on any adapter.
#}
{% macro parse_openai_line_item(relation, line_item_column) -%}
    {{ return(adapter.dispatch('parse_openai_line_item', 'llmeter')(relation, line_item_column)) }}
{%- endmacro %}

{% macro default__parse_openai_line_item(relation, line_item_column) -%}
    {%- set item = 'line_item_input.' ~ line_item_column -%}
    {%- set token_charges = "'input', 'output', 'cached input', 'cache writes', 'cache write'" -%}
    {%- set known_charges_without_model = "'web search tool calls', 'file search tool calls', 'vector storage', 'code interpreter sessions'" -%}
select
    line_item_checked.*,
    case
        when line_item_checked.is_parsed then line_item_checked._line_item_component
        else 'other'
    end as price_component
from (
    select
        line_item_parts.*,
        case
            when line_item_parts._line_item_model_part is null then '(no model)'
            when line_item_parts._line_item_modality = 'text'
                then line_item_parts._line_item_model_part
            else {{ dbt.replace(
                'line_item_parts._line_item_model_part',
                "' ' || line_item_parts._line_item_modality",
                "''") }}
        end as model,
        case
            when line_item_parts._line_item_model_part is null
                and lower(line_item_parts._line_item_charge) = 'web search tool calls'
                then 'web_search_request'
            when line_item_parts._line_item_model_part is null then 'other'
            when line_item_parts._line_item_modality <> 'text' then 'other'
            when lower(line_item_parts._line_item_charge) = 'input' then 'input_uncached'
            when lower(line_item_parts._line_item_charge) = 'cached input' then 'cache_read'
            when lower(line_item_parts._line_item_charge) in ('cache writes', 'cache write')
                then 'cache_write_5m'
            when lower(line_item_parts._line_item_charge) = 'output' then 'output'
            else 'other'
        end as _line_item_component,
        case
            when line_item_parts._line_item_tier_prefix is null then 'standard'
            else lower(line_item_parts._line_item_tier_prefix)
        end as service_tier,
        coalesce(
            lower(coalesce(line_item_parts._line_item_tier_prefix, 'standard'))
            in ('standard', 'batch', 'priority', 'flex', 'scale')
            and (
                (
                    line_item_parts._line_item_model_part is not null
                    and lower(line_item_parts._line_item_charge) in ({{ token_charges }})
                )
                or (
                    line_item_parts._line_item_model_part is null
                    and lower(line_item_parts._line_item_charge)
                    in ({{ known_charges_without_model }})
                )
            ),
            false
        ) as is_parsed
    from (
        select
            line_item_split.*,
            case
                when line_item_split._line_item_model_part like '% audio' then 'audio'
                when line_item_split._line_item_model_part like '% image' then 'image'
                else 'text'
            end as _line_item_modality
        from (
            select
                line_item_core.*,
                case
                    when line_item_core._line_item_core like '%, %'
                        then {{ dbt.split_part('line_item_core._line_item_core', "', '", 1) }}
                end as _line_item_model_part,
                case
                    when line_item_core._line_item_core like '%, %'
                        then {{ dbt.right(
                            'line_item_core._line_item_core',
                            dbt.length('line_item_core._line_item_core') ~ ' - '
                            ~ dbt.position("', '", 'line_item_core._line_item_core') ~ ' - 1') }}
                    else line_item_core._line_item_core
                end as _line_item_charge
            from (
                select
                    line_item_tiers.*,
                    case
                        when line_item_tiers._line_item_rest like '%, long context' then 'long'
                        else 'standard'
                    end as context_tier,
                    {{ dbt.replace('line_item_tiers._line_item_rest', "', long context'", "''") }}
                        as _line_item_core
                from (
                    select
                        line_item_input.*,
                        case
                            when {{ item }} like '% | %'
                                then {{ dbt.split_part(item, "' | '", 1) }}
                        end as _line_item_tier_prefix,
                        case
                            when {{ item }} like '% | %'
                                then {{ dbt.right(
                                    item,
                                    dbt.length(item) ~ ' - ' ~ dbt.position("' | '", item) ~ ' - 2') }}
                            else {{ item }}
                        end as _line_item_rest
                    from {{ relation }} as line_item_input
                ) as line_item_tiers
            ) as line_item_core
        ) as line_item_split
    ) as line_item_parts
) as line_item_checked
{%- endmacro %}
