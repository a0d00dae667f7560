{#
    fct_cost_anomalies judges only complete days and complete months: every anomaly ends
    before the run's as-of date. Returns the anomalies that do not.
#}

select
    anomaly_id,
    anomaly_type,
    anomaly_date,
    last_anomaly_date
from {{ ref('fct_cost_anomalies') }}
where last_anomaly_date >= {{ llmeter.as_of_date() }}
