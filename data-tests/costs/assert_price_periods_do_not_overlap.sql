{#
    At most one price of each source is in force per provider, model, price component,
    service tier and long-context threshold at any instant: returns each pair of overlapping
    rows.
#}

with

prices as (
    select
        price_key,
        provider,
        model,
        price_component,
        service_tier,
        tier_threshold_tokens,
        price_source,
        valid_from_at,
        valid_to_at
    from {{ ref('int_model_prices') }}
)

select
    earlier.price_key as earlier_price_key,
    later.price_key as later_price_key
from prices as earlier
inner join prices as later
    on
        earlier.provider = later.provider
        and earlier.model = later.model
        and earlier.price_component = later.price_component
        and earlier.service_tier = later.service_tier
        and earlier.tier_threshold_tokens = later.tier_threshold_tokens
        and earlier.price_source = later.price_source
        and earlier.price_key <> later.price_key
        and earlier.valid_from_at <= later.valid_from_at
        and (earlier.valid_to_at is null or earlier.valid_to_at > later.valid_from_at)
