{#
    No recipient gets a part of the opposite sign to its grain's billed cost: charges give
    non-negative parts, credits non-positive ones.
#}

select
    provider,
    usage_date,
    model,
    price_component,
    customer_id,
    billed_cost_usd,
    allocated_cost_usd
from {{ ref('int_costs_allocated') }}
where
    (billed_cost_usd >= 0 and allocated_cost_usd < 0)
    or (billed_cost_usd <= 0 and allocated_cost_usd > 0)
