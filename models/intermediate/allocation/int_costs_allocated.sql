{#
    One row per allocation grain and recipient (customer or `(unattributed)`): the part of the
    grain's billed cost that the recipient carries. The split runs with split_exact in integer
    pico-dollars (largest remainder method, ties broken by recipient), so the parts of each
    grain add up to its billed cost exactly. Quantity weights are whole tokens or requests
    (weight_scale 0); list-cost weights are dollars (weight_scale 12). The rules that set the
    weights are in int_allocation_recipients.
#}

with

recipients as (
    select
        provider,
        usage_date,
        model,
        price_component,
        service_tier,
        context_tier,
        sub_account_id,
        customer_id,
        recipient_model,
        is_unattributed,
        allocation_method,
        billed_cost_usd,
        provider_quantity,
        customers_quantity,
        is_over_attributed,
        line_items,
        quantity,
        list_cost_usd,
        weight
    from {{ ref('int_allocation_recipients') }}
),

quantity_weighted as (
    select *
    from recipients
    where allocation_method <> 'list_cost'
),

list_cost_weighted as (
    select *
    from recipients
    where allocation_method = 'list_cost'
),

{%- set grain = [
    'provider', 'usage_date', 'model', 'price_component', 'service_tier', 'context_tier',
    'sub_account_id',
] %}
{%- set tie_break = ['is_unattributed', 'customer_id', 'recipient_model'] %}

quantity_split as (
    {{ llmeter.split_exact(
        'quantity_weighted', 'billed_cost_usd', 'weight', grain, tie_break,
        'allocated_cost_usd', weight_scale=0,
    ) }}
),

list_cost_split as (
    {{ llmeter.split_exact(
        'list_cost_weighted', 'billed_cost_usd', 'weight', grain, tie_break,
        'allocated_cost_usd', weight_scale=12,
    ) }}
),

splits as (
    {%- for split in ['quantity_split', 'list_cost_split'] %}
        select
            provider,
            usage_date,
            model,
            price_component,
            service_tier,
            context_tier,
            sub_account_id,
            customer_id,
            recipient_model,
            is_unattributed,
            allocation_method,
            billed_cost_usd,
            provider_quantity,
            customers_quantity,
            is_over_attributed,
            line_items,
            quantity,
            list_cost_usd,
            weight,
            allocated_cost_usd
        from {{ split }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select * from splits
)

select * from final
