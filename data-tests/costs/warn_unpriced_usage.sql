{#
    Warns with the number of provider and model pairs whose tagged calls have no price: their
    list cost is null until a price seed, an alias or a contract price covers them.
#}

{{ config(severity='warn') }}

select
    provider,
    model,
    calls,
    unpriced_reasons
from {{ ref('fct_unpriced_usage') }}
