"""What the OpenAI and Anthropic Admin API sources share.

- `client`: GET requests with timeouts, retries that honour `Retry-After`, exact JSON decimals
  and errors that name the endpoint and page.
- `windows`: the days a run reads (backfill, look-back, `--since`/`--until`) and the cursor.
- `pages`: following page cursors and checking every page, bucket and amount.
- `resources`: the dlt resources, which replace whole daily buckets on every load.
- `run`: one provider's load and its audit rows.
"""

from pipelines.admin_api.client import (
    AdminApiClient,
    AdminApiError,
    AdminKeyRejectedError,
    MalformedPageError,
    ProviderInfo,
    RetryPolicy,
    retry_after_seconds,
)
from pipelines.admin_api.pages import (
    check_bucket_bounds,
    check_counts,
    exact_money,
    paginate,
    read_bucket_pages,
    read_list_pages,
    require_results,
)
from pipelines.admin_api.resources import (
    BUCKET_COLUMNS,
    BUCKET_MARKER_COLUMN,
    BUCKET_START_COLUMN,
    ExtractReport,
    TableReport,
    bool_column,
    bucketed_resource,
    count_column,
    lookup_resource,
    money_column,
    text_column,
    timestamp_column,
)
from pipelines.admin_api.run import resolve_admin_key, run_source
from pipelines.admin_api.windows import (
    ExtractWindow,
    WindowOptions,
    next_loaded_until,
    plan_window,
    utc_midnight,
    window_options,
)

__all__ = [
    "BUCKET_COLUMNS",
    "BUCKET_MARKER_COLUMN",
    "BUCKET_START_COLUMN",
    "AdminApiClient",
    "AdminApiError",
    "AdminKeyRejectedError",
    "ExtractReport",
    "ExtractWindow",
    "MalformedPageError",
    "ProviderInfo",
    "RetryPolicy",
    "TableReport",
    "WindowOptions",
    "bool_column",
    "bucketed_resource",
    "check_bucket_bounds",
    "check_counts",
    "count_column",
    "exact_money",
    "lookup_resource",
    "money_column",
    "next_loaded_until",
    "paginate",
    "plan_window",
    "read_bucket_pages",
    "read_list_pages",
    "require_results",
    "resolve_admin_key",
    "retry_after_seconds",
    "run_source",
    "text_column",
    "timestamp_column",
    "utc_midnight",
    "window_options",
]
