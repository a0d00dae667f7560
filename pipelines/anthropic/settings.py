"""Endpoints, parameters and raw-table columns of the Anthropic Admin API source.

Field lists follow the Admin API reference pages `usage_report/retrieve_messages`,
`cost_report/retrieve`, `api_keys/list` and `workspaces/list` (platform.claude.com, 2026).
"""

from __future__ import annotations

from dlt.common.schema.typing import TTableSchemaColumns

from pipelines.admin_api import ProviderInfo, count_column, text_column, timestamp_column

PROVIDER = ProviderInfo(name="anthropic", title="Anthropic", admin_key_hint="sk-ant-admin01-...")
DATASET_NAME = "raw_anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com/v1"
API_VERSION = "2023-06-01"

# Buckets per page at `bucket_width=1d`; a larger `limit` is answered with HTTP 400.
USAGE_PAGE_SIZE = 31
COST_PAGE_SIZE = 31
LIST_PAGE_SIZE = 100

USAGE_PATH = "/organizations/usage_report/messages"
COST_PATH = "/organizations/cost_report"
API_KEYS_PATH = "/organizations/api_keys"
WORKSPACES_PATH = "/organizations/workspaces"

# The usage report accepts at most five `group_by[]` dimensions. These five separate every
# price: model, tier and long context, and attribute usage to keys and workspaces.
USAGE_GROUP_BY = ("model", "api_key_id", "workspace_id", "service_tier", "context_window")
USAGE_DIMENSIONS = (
    *USAGE_GROUP_BY,
    "inference_geo",
    "account_id",
    "service_account_id",
)
USAGE_COUNTS = (
    "uncached_input_tokens",
    "cache_read_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "output_tokens",
    "server_tool_use.web_search_requests",
)
USAGE_COLUMNS: TTableSchemaColumns = {
    **{dimension: text_column() for dimension in USAGE_DIMENSIONS},
    **{count.replace(".", "__"): count_column() for count in USAGE_COUNTS},
}

# The cost report groups only by workspace and description; grouping by description fills
# the fields parsed from it (cost_type, token_type, model, service_tier, context_window).
COST_GROUP_BY = ("workspace_id", "description")
COST_COLUMNS: TTableSchemaColumns = {
    # Cents as the decimal string the API sent (`"54.702000"` is $0.54702).
    "amount": text_column(),
    "currency": text_column(),
    "description": text_column(),
    "cost_type": text_column(),
    "token_type": text_column(),
    "model": text_column(),
    "service_tier": text_column(),
    "context_window": text_column(),
    "inference_geo": text_column(),
    "workspace_id": text_column(),
}

API_KEYS_COLUMNS: TTableSchemaColumns = {
    "id": text_column(),
    "type": text_column(),
    "name": text_column(),
    "workspace_id": text_column(),
    "status": text_column(),
    "created_at": timestamp_column(),
    "expires_at": timestamp_column(),
    "created_by__id": text_column(),
    "created_by__type": text_column(),
}
WORKSPACES_COLUMNS: TTableSchemaColumns = {
    "id": text_column(),
    "type": text_column(),
    "name": text_column(),
    "created_at": timestamp_column(),
    "archived_at": timestamp_column(),
    "display_color": text_column(),
}
# RFC 3339 fields of the list endpoints, stored as UTC timestamps.
TIMESTAMP_FIELDS = ("created_at", "archived_at", "expires_at")
# Fields of API key objects that are never stored: a key hint is still part of a secret.
DROPPED_KEY_FIELDS = ("partial_key_hint",)
