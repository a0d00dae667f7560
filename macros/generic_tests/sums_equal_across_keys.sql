{#
    Additivity within each key: for every partition (say a day and a provider), the sum of each
    measure over the values of one key equals its sum over the values of every other key. Fails
    for every partition and measure where two keys' sums differ.
#}
{% test sums_equal_across_keys(model, key_column, partition_by, measures) %}

{%- set partition = partition_by | join(', ') %}

with key_totals as (
    select
        {{ partition }},
        {{ key_column }},
        {%- for measure in measures %}
        sum({{ measure }}) as {{ measure }}_total{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
    group by {{ partition }}, {{ key_column }}
),

{%- for measure in measures %}

{{ measure }}_mismatches as (
    select
        {{ partition }},
        '{{ measure }}' as measure,
        min({{ measure }}_total) as smallest_total,
        max({{ measure }}_total) as largest_total
    from key_totals
    group by {{ partition }}
    having min({{ measure }}_total) <> max({{ measure }}_total)
){{ "," if not loop.last }}
{%- endfor %}

{%- for measure in measures %}
select * from {{ measure }}_mismatches
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}

{% endtest %}
