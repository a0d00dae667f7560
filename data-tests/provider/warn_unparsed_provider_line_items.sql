{{ config(severity='warn') }}

{#
    Line items that no known format matched. They keep price_component 'other' and their cost,
    so nothing is lost, but their cost is set against no usage. One row per provider and line
    item, so the warning's count is the number of distinct unparsed line items.
#}

with costs as (
    select
        provider,
        line_item,
        usage_date,
        billed_cost_usd
    from {{ ref('int_provider_costs_daily') }}
    where not is_line_item_parsed
),

final as (
    select
        provider,
        line_item,
        count(*) as cost_rows,
        min(usage_date) as first_usage_date,
        max(usage_date) as last_usage_date,
        sum(billed_cost_usd) as billed_cost_usd
    from costs
    group by provider, line_item
)

select * from final
