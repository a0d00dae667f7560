{#
    Split an amount across the rows of each group in proportion to a weight, so that the parts
    always add up to the amount exactly.

    Returns a select statement over `relation` with one extra column, `output_column`.

    - `amount_column` holds the whole amount to split, repeated on every row of the group.
    - `weight_column` is a non-negative weight. Weights are scaled by 10^weight_scale and
      truncated to integers before the split (0 for token counts, 12 for dollar weights).
    - The split runs in pico-dollars (1e-12 USD) with integer division. The pico-dollars left
      over by truncation go one each to the rows with the largest truncated fractions (largest
      remainder method), ties broken by `order_by`. A row of weight zero never gets any.
    - Any part of the amount finer than 1e-12 goes to the first row by `order_by` among the
      heaviest, and so does the whole amount when every weight in the group is zero, so that
      nothing is lost.
    - Negative amounts (credits) are split by their absolute value and keep their sign.
#}
{% macro split_exact(relation, amount_column, weight_column, partition_by, order_by, output_column, weight_scale=0) -%}
    {{ return(adapter.dispatch('split_exact', 'llmeter')(relation, amount_column, weight_column, partition_by, order_by, output_column, weight_scale)) }}
{%- endmacro %}

{% macro default__split_exact(relation, amount_column, weight_column, partition_by, order_by, output_column, weight_scale) -%}
    {%- set big = llmeter.type_big_integer() -%}
    {%- set partition = partition_by | join(', ') -%}
    {%- set tie_break = order_by | join(', ') -%}
    {%- set weight_multiplier = '1' ~ ('0' * weight_scale) -%}
select
    split_ranked.*,
    cast(
        split_ranked._split_sign * (
            cast(
                split_ranked._split_base_pico
                + case
                    when split_ranked._split_total_weight > 0
                        and split_ranked._split_rank <= split_ranked._split_leftover_pico
                        then 1
                    else 0
                end
                + case
                    when split_ranked._split_total_weight = 0 and split_ranked._split_rank = 1
                        then split_ranked._split_total_pico
                    else 0
                end
                as decimal(38, 0)
            ) * 0.000000000001
            + case
                when split_ranked._split_rank = 1 then split_ranked._split_sub_pico_usd
                else 0
            end
        )
        as {{ llmeter.type_usd() }}
    ) as {{ output_column }}
from (
    select
        split_base.*,
        split_base._split_total_pico
        - sum(split_base._split_base_pico) over (partition by {{ partition }})
            as _split_leftover_pico,
        row_number() over (
            partition by {{ partition }}
            order by split_base._split_fraction desc, split_base._split_weight desc, {{ tie_break }}
        ) as _split_rank
    from (
        select
            split_weighted.*,
            case
                when split_weighted._split_total_weight = 0 then cast(0 as {{ big }})
                else {{ llmeter.integer_divide(
                    'split_weighted._split_total_pico * split_weighted._split_weight',
                    'split_weighted._split_total_weight') }}
            end as _split_base_pico,
            case
                when split_weighted._split_total_weight = 0 then cast(0 as {{ big }})
                else mod(
                    split_weighted._split_total_pico * split_weighted._split_weight,
                    split_weighted._split_total_weight
                )
            end as _split_fraction
        from (
            select
                split_source.*,
                sum(split_source._split_weight) over (partition by {{ partition }})
                    as _split_total_weight
            from (
                select
                    split_input.*,
                    case when split_input.{{ amount_column }} < 0 then -1 else 1 end as _split_sign,
                    {{ llmeter.to_pico('split_input.' ~ amount_column) }} as _split_total_pico,
                    (abs(split_input.{{ amount_column }})
                    - floor(abs(split_input.{{ amount_column }})))
                    - cast(
                        floor(
                            (abs(split_input.{{ amount_column }})
                            - floor(abs(split_input.{{ amount_column }}))) * 1000000000000
                        ) as decimal(38, 0)
                    ) * 0.000000000001 as _split_sub_pico_usd,
                    cast(
                        floor(coalesce(split_input.{{ weight_column }}, 0) * {{ weight_multiplier }})
                        as {{ big }}
                    ) as _split_weight
                from {{ relation }} as split_input
            ) as split_source
        ) as split_weighted
    ) as split_base
) as split_ranked
{%- endmacro %}
