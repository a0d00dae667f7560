{#
    Warns with the number of allocation grains where the tagged calls exceed the provider's
    quantity (clock skew at midnight, a call tagged twice): there the remainder gets nothing
    and the customers share the whole billed cost.
#}

{{ config(severity='warn') }}

select
    provider,
    usage_date,
    model,
    price_component,
    service_tier,
    context_tier,
    sub_account_id,
    provider_quantity,
    customers_quantity
from {{ ref('int_costs_allocated') }}
where is_over_attributed and is_unattributed
