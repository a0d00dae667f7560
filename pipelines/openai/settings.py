"""Endpoints, parameters and raw-table columns of the OpenAI Administration API source.

Field lists follow the OpenAI OpenAPI spec (`UsageResponse`, `Usage*Result`, `CostsResult`,
`Project`, `ProjectApiKey`), openai/openai-openapi as of August 2026.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dlt.common.schema.typing import TTableSchemaColumns

from pipelines.admin_api import (
    ProviderInfo,
    bool_column,
    count_column,
    money_column,
    text_column,
    timestamp_column,
)

PROVIDER = ProviderInfo(name="openai", title="OpenAI", admin_key_hint="sk-admin-...")
DATASET_NAME = "raw_openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Buckets per page at `bucket_width=1d`; a larger `limit` is answered with HTTP 400.
USAGE_PAGE_SIZE = 31
COSTS_PAGE_SIZE = 180
LIST_PAGE_SIZE = 100

COSTS_PATH = "/organization/costs"
PROJECTS_PATH = "/organization/projects"
PROJECT_API_KEYS_PATH = "/organization/projects/{project_id}/api_keys"

# Costs grouped by api_key_id are answered with HTTP 400 for windows that start earlier.
COSTS_BY_API_KEY_EARLIEST = dt.date(2025, 12, 6)


@dataclass(frozen=True)
class UsageEndpoint:
    """One usage endpoint (`/organization/usage/<name>`) and its raw table.

    Attributes:
        name: the path's last part.
        group_by: every dimension the endpoint can group by; the source groups by all of them.
        counts: the metric fields, integers that are 0 when absent.
        booleans: dimensions that are booleans (`batch`).
    """

    name: str
    group_by: tuple[str, ...]
    counts: tuple[str, ...]
    booleans: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"/organization/usage/{self.name}"

    @property
    def table(self) -> str:
        return f"usage_{self.name}"

    def columns(self) -> TTableSchemaColumns:
        """Return the column hints of the endpoint's fields, so that each column exists."""
        columns: TTableSchemaColumns = {"object": text_column()}
        for dimension in self.group_by:
            columns[dimension] = bool_column() if dimension in self.booleans else text_column()
        for count in self.counts:
            columns[count] = count_column()
        return columns


_BY_MEMBER = ("project_id", "user_id", "api_key_id", "model")

USAGE_ENDPOINTS: tuple[UsageEndpoint, ...] = (
    UsageEndpoint(
        "completions",
        group_by=(*_BY_MEMBER, "batch", "service_tier"),
        counts=(
            "input_tokens",
            "input_cached_tokens",
            "input_cache_write_tokens",
            "input_uncached_tokens",
            "output_tokens",
            "input_text_tokens",
            "input_cached_text_tokens",
            "input_audio_tokens",
            "input_cached_audio_tokens",
            "input_image_tokens",
            "input_cached_image_tokens",
            "output_text_tokens",
            "output_audio_tokens",
            "output_image_tokens",
            "num_model_requests",
        ),
        booleans=("batch",),
    ),
    UsageEndpoint("embeddings", group_by=_BY_MEMBER, counts=("input_tokens", "num_model_requests")),
    UsageEndpoint(
        "moderations", group_by=_BY_MEMBER, counts=("input_tokens", "num_model_requests")
    ),
    UsageEndpoint(
        "images",
        group_by=(*_BY_MEMBER, "size", "source"),
        counts=("images", "num_model_requests"),
    ),
    UsageEndpoint(
        "audio_speeches", group_by=_BY_MEMBER, counts=("characters", "num_model_requests")
    ),
    UsageEndpoint(
        "audio_transcriptions", group_by=_BY_MEMBER, counts=("seconds", "num_model_requests")
    ),
    UsageEndpoint("vector_stores", group_by=("project_id",), counts=("usage_bytes",)),
    UsageEndpoint("code_interpreter_sessions", group_by=("project_id",), counts=("num_sessions",)),
    UsageEndpoint(
        "file_search_calls",
        group_by=("project_id", "user_id", "api_key_id", "vector_store_id"),
        counts=("num_requests",),
    ),
    UsageEndpoint(
        "web_search_calls",
        group_by=(*_BY_MEMBER, "context_level"),
        counts=("num_model_requests", "num_requests"),
    ),
)

COSTS_GROUP_BY = ("project_id", "line_item")
COSTS_BY_API_KEY_GROUP_BY = ("project_id", "line_item", "api_key_id")
COSTS_COLUMNS: TTableSchemaColumns = {
    "object": text_column(),
    "amount__value": money_column(),
    "amount__currency": text_column(),
    "line_item": text_column(),
    "project_id": text_column(),
    "api_key_id": text_column(),
    "quantity": money_column(),
    "quantity_unit": text_column(),
}

PROJECTS_COLUMNS: TTableSchemaColumns = {
    "id": text_column(),
    "object": text_column(),
    "name": text_column(),
    "status": text_column(),
    "created_at": timestamp_column(),
    "archived_at": timestamp_column(),
}
API_KEYS_COLUMNS: TTableSchemaColumns = {
    "id": text_column(),
    "object": text_column(),
    "project_id": text_column(),
    "name": text_column(),
    "created_at": timestamp_column(),
    "last_used_at": timestamp_column(),
    "owner__type": text_column(),
}
# Unix-second fields of the list endpoints, stored as UTC timestamps.
EPOCH_FIELDS = ("created_at", "archived_at", "last_used_at")
# Fields of API key objects that are never stored: a redacted key is still part of a secret.
DROPPED_KEY_FIELDS = ("redacted_value", "value")
