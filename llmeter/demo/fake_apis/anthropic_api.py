"""Fake Anthropic Admin API: the usage and cost reports, API keys and workspaces.

Shapes follow the Admin API reference (`usage_report/messages`, `cost_report`, `api_keys`,
`workspaces`). Cost amounts are decimal strings in cents. Public integrations reported live
behaviours that the fake copies: more than 5 `group_by[]` dimensions, a page cursor replayed
with changed parameters and a cost window with no complete day are all rejected with a 400.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from llmeter.demo.fake_apis.protocol import (
    BUCKET_WIDTH_SECONDS,
    ApiError,
    ApiRequest,
    ApiResponse,
    ServingState,
    bucket_day,
    bucket_grid,
    check_known_parameters,
    decode_cursor,
    encode_cursor,
    epoch,
    page_buckets,
    parse_int,
    query_fingerprint,
    query_values,
    single_value,
    utc_from_epoch,
)
from llmeter.demo.fake_apis.store import aggregate, exact_product, exact_sum, group_records

ADMIN_KEY = "sk-ant-admin01-demo-llmeter-0123456789abcdef"
API_VERSION = "2023-06-01"
SPEED_BETA = "fast-mode-2026-02-01"

CURSOR_PREFIX = "page_"
MAX_GROUP_BY = 5

USAGE_DIMENSIONS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "account_id",
    "service_account_id",
)
USAGE_METRICS = (
    "uncached_input_tokens",
    "cache_read_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "output_tokens",
    "server_tool_use.web_search_requests",
)
# Filter parameter (without `[]`) -> the dimension it filters on.
USAGE_FILTERS = {
    "api_key_ids": "api_key_id",
    "workspace_ids": "workspace_id",
    "models": "model",
    "service_tiers": "service_tier",
    "context_window": "context_window",
    "inference_geos": "inference_geo",
    "account_ids": "account_id",
    "service_account_ids": "service_account_id",
    "speeds": "speed",
}

COST_GROUP_BY = ("workspace_id", "description")
# The fields the cost report parses out of `description`; null unless grouped by description.
COST_DESCRIPTION_FIELDS = (
    "description",
    "cost_type",
    "token_type",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
)

# (default, maximum) buckets per page.
USAGE_LIMITS: dict[str, tuple[int, int]] = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}
COST_LIMITS: dict[str, tuple[int, int]] = {"1d": (7, 31)}
LIST_LIMITS = (20, 1000)

_REPORT_PARAMETERS = ("starting_at", "ending_at", "bucket_width", "limit", "page", "group_by[]")

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def authenticate(request: ApiRequest) -> None:
    """Check the `x-api-key` admin key and the `anthropic-version` header.

    Raises:
        ApiError: 401 when the key is missing or is not the admin key, 400 when the version
            header is missing or unknown.
    """
    key = request.header("x-api-key")
    if not key:
        raise ApiError(401, "x-api-key header is required", error_type="authentication_error")
    if key != ADMIN_KEY:
        raise ApiError(
            401,
            "invalid x-api-key: the Admin API requires an admin key (sk-ant-admin01-...)",
            error_type="authentication_error",
        )
    version = request.header("anthropic-version")
    if not version:
        raise ApiError(400, "anthropic-version: header is required")
    if version != API_VERSION:
        raise ApiError(400, f"anthropic-version: unknown version {version!r}")


def render_error(error: ApiError) -> dict[str, Any]:
    """Return the Anthropic error body of `error`."""
    return {"type": "error", "error": {"type": error.error_type, "message": error.message}}


def error_for_status(status: int) -> ApiError:
    """Return the error Anthropic sends for an injected failure status (429, 500, 503, 529)."""
    error_type = _ERROR_TYPES.get(status, "api_error")
    messages = {
        "rate_limit_error": "Number of requests has exceeded your rate limit. Try again later.",
        "overloaded_error": "Overloaded",
    }
    return ApiError(
        status, messages.get(error_type, "Internal server error"), error_type=error_type
    )


def handle(request: ApiRequest, state: ServingState) -> ApiResponse:
    """Serve one authenticated request below `/v1`.

    Raises:
        ApiError: invalid parameters (400) or an unknown path (404).
    """
    path = request.path.rstrip("/")
    if request.method == "GET":
        if path == "/v1/organizations/usage_report/messages":
            return ApiResponse(200, _usage_page(request, state))
        if path == "/v1/organizations/cost_report":
            return ApiResponse(200, _cost_page(request, state))
        if path == "/v1/organizations/api_keys":
            return ApiResponse(200, _api_keys_page(request, state))
        if path == "/v1/organizations/workspaces":
            return ApiResponse(200, _workspaces_page(request, state))
    raise ApiError(404, f"Not found: {request.method} {request.path}", error_type="not_found_error")


def format_rfc3339(seconds: int) -> str:
    """Return Unix seconds as RFC 3339 UTC with a `Z` suffix (`2025-08-01T00:00:00Z`)."""
    return utc_from_epoch(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_cents(cents: Decimal) -> str:
    """Return an amount in cents as a decimal string with at least 6 decimals (`"54.702000"`).

    Amounts with more decimals keep all of them, so that no amount is rounded.
    """
    exponent = cents.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -6:
        cents = cents.quantize(Decimal("0.000001"))
    return format(cents, "f")


def _parse_time(query: Mapping[str, Sequence[str]], name: str) -> dt.datetime | None:
    value = single_value(query, name)
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError(
            400,
            f"{name}: invalid RFC 3339 timestamp {value!r}; expected for example "
            "2025-08-01T00:00:00Z",
        )
    return moment.astimezone(dt.UTC)


def _parse_limit(query: Mapping[str, Sequence[str]], default: int, maximum: int) -> int:
    limit = parse_int(query, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise ApiError(400, f"limit: Input should be between 1 and {maximum}, got {limit}")
    return limit


def _bucketed_page(
    request: ApiRequest,
    state: ServingState,
    *,
    limits: Mapping[str, tuple[int, int]],
    results_for_day: Callable[[dt.date], list[dict[str, Any]]],
    require_complete_bucket: bool = False,
) -> dict[str, Any]:
    """Return one page of complete buckets in the `data`, `has_more`, `next_page` envelope."""
    query = request.query
    starting_at = _parse_time(query, "starting_at")
    if starting_at is None:
        raise ApiError(400, "starting_at: Field required")
    ending_at = _parse_time(query, "ending_at")
    bucket_width = single_value(query, "bucket_width") or "1d"
    if bucket_width not in limits:
        raise ApiError(
            400,
            f"bucket_width: Input should be {' or '.join(map(repr, limits))}, got {bucket_width!r}",
        )
    default_limit, max_limit = limits[bucket_width]
    limit = _parse_limit(query, default_limit, max_limit)
    width = BUCKET_WIDTH_SECONDS[bucket_width]

    range_start = epoch(starting_at) // width * width
    if ending_at is not None and epoch(ending_at) <= range_start:
        raise ApiError(400, "ending_at must be after starting_at")
    # Only complete buckets are served: each ends at or before ending_at and at or before now.
    range_end = epoch(state.now) if ending_at is None else min(epoch(ending_at), epoch(state.now))
    grid = [
        bucket for bucket in bucket_grid(range_start, range_end, width) if bucket[1] <= range_end
    ]
    if require_complete_bucket and not grid:
        raise ApiError(
            400,
            f"No valid ending date exists after starting_at {format_rfc3339(range_start)}: the "
            "cost report serves complete days only. Start the window at least one day earlier.",
        )

    fingerprint = query_fingerprint(request.path, query)
    cursor = single_value(query, "page")
    first_start = None if cursor is None else decode_cursor(cursor, CURSOR_PREFIX, fingerprint)
    page = page_buckets(grid, first_start, limit)

    data = []
    for bucket_start, bucket_end in page.buckets:
        day = bucket_day(bucket_start, range_start, state.now)
        data.append(
            {
                "starting_at": format_rfc3339(bucket_start),
                "ending_at": format_rfc3339(bucket_end),
                "results": [] if day is None else results_for_day(day),
            }
        )
    next_page = (
        None
        if page.next_start is None
        else encode_cursor(CURSOR_PREFIX, fingerprint, page.next_start)
    )
    return {"data": data, "has_more": next_page is not None, "next_page": next_page}


def _parse_group_by(query: Mapping[str, Sequence[str]], allowed: Sequence[str]) -> list[str]:
    values = query_values(query, "group_by")
    if len(values) > MAX_GROUP_BY:
        raise ApiError(400, f"Cannot specify more than {MAX_GROUP_BY} group_by[] dimensions.")
    grouped: list[str] = []
    for value in values:
        if value not in allowed:
            raise ApiError(
                400,
                f"group_by[]: Input should be one of {', '.join(map(repr, allowed))}, "
                f"got {value!r}",
            )
        if value not in grouped:
            grouped.append(value)
    return grouped


def _usage_page(request: ApiRequest, state: ServingState) -> dict[str, Any]:
    beta = request.header("anthropic-beta") or ""
    with_speed = SPEED_BETA in {flag.strip() for flag in beta.split(",")}
    dimensions = (*USAGE_DIMENSIONS, "speed") if with_speed else USAGE_DIMENSIONS
    filters_by_parameter = {
        parameter: dimension
        for parameter, dimension in USAGE_FILTERS.items()
        if dimension in dimensions
    }
    check_known_parameters(
        request.query, [*_REPORT_PARAMETERS, *(f"{name}[]" for name in filters_by_parameter)]
    )
    grouped = _parse_group_by(request.query, dimensions)
    filters = {
        dimension: set(query_values(request.query, parameter))
        for parameter, dimension in filters_by_parameter.items()
        if query_values(request.query, parameter)
    }

    def results_for_day(day: dt.date) -> list[dict[str, Any]]:
        records = [
            record
            for record in state.store.day_records("anthropic", "usage", day)
            if all(record.get(name) in values for name, values in filters.items())
        ]
        return [
            _usage_row(values, sums)
            for values, sums in aggregate(records, dimensions, grouped, USAGE_METRICS)
        ]

    return _bucketed_page(request, state, limits=USAGE_LIMITS, results_for_day=results_for_day)


def _usage_row(values: Mapping[str, Any], sums: Mapping[str, Any]) -> dict[str, Any]:
    """Return a usage row with the fields in the API's (alphabetical) order."""
    row: dict[str, Any] = {
        "account_id": values["account_id"],
        "api_key_id": values["api_key_id"],
        "cache_creation": {
            "ephemeral_1h_input_tokens": sums["cache_creation.ephemeral_1h_input_tokens"],
            "ephemeral_5m_input_tokens": sums["cache_creation.ephemeral_5m_input_tokens"],
        },
        "cache_read_input_tokens": sums["cache_read_input_tokens"],
        "context_window": values["context_window"],
        "inference_geo": values["inference_geo"],
        "model": values["model"],
        "output_tokens": sums["output_tokens"],
        "server_tool_use": {"web_search_requests": sums["server_tool_use.web_search_requests"]},
        "service_account_id": values["service_account_id"],
        "service_tier": values["service_tier"],
    }
    if "speed" in values:
        row["speed"] = values["speed"]
    row["uncached_input_tokens"] = sums["uncached_input_tokens"]
    row["workspace_id"] = values["workspace_id"]
    return row


def _cost_page(request: ApiRequest, state: ServingState) -> dict[str, Any]:
    check_known_parameters(request.query, _REPORT_PARAMETERS)
    requested = _parse_group_by(request.query, COST_GROUP_BY)
    grouped: set[str] = set()
    if "workspace_id" in requested:
        grouped.add("workspace_id")
    if "description" in requested:
        grouped.update(COST_DESCRIPTION_FIELDS)
    dimensions = ("workspace_id", *COST_DESCRIPTION_FIELDS)

    def results_for_day(day: dt.date) -> list[dict[str, Any]]:
        if day in state.dropped_cost_days:
            return []
        records = state.store.day_records("anthropic", "costs", day)
        rows = []
        for values, group in group_records(records, dimensions, grouped):
            cents = exact_sum(record["amount_cents"] for record in group)
            rows.append(
                {
                    "amount": format_cents(
                        Decimal(exact_product(Decimal(cents), state.amount_factor))
                    ),
                    "context_window": values["context_window"],
                    "cost_type": values["cost_type"],
                    "currency": "USD",
                    "description": values["description"],
                    "inference_geo": values["inference_geo"],
                    "model": values["model"],
                    "service_tier": values["service_tier"],
                    "token_type": values["token_type"],
                    "workspace_id": values["workspace_id"],
                }
            )
        return rows

    return _bucketed_page(
        request,
        state,
        limits=COST_LIMITS,
        results_for_day=results_for_day,
        require_complete_bucket=True,
    )


def _list_page(request: ApiRequest, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return one page of an Anthropic list endpoint (`limit`, `after_id`, `before_id`)."""
    limit = _parse_limit(request.query, *LIST_LIMITS)
    after_id = single_value(request.query, "after_id")
    before_id = single_value(request.query, "before_id")
    if after_id is not None and before_id is not None:
        raise ApiError(400, "Only one of after_id and before_id may be given")
    ids = [item.get("id") for item in items]
    for name, value in (("after_id", after_id), ("before_id", before_id)):
        if value is not None and value not in ids:
            raise ApiError(400, f"{name}: no object with id {value!r}")

    if before_id is not None:
        end = ids.index(before_id)
        start = max(0, end - limit)
        has_more = start > 0
    else:
        start = 0 if after_id is None else ids.index(after_id) + 1
        end = start + limit
        has_more = end < len(items)
    page = list(items[start:end])
    return {
        "data": page,
        "has_more": has_more,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
    }


def _api_keys_page(request: ApiRequest, state: ServingState) -> dict[str, Any]:
    check_known_parameters(
        request.query,
        ["limit", "after_id", "before_id", "workspace_id", "status", "created_by_user_id"],
    )
    keys = state.store.anthropic_api_keys
    for parameter, field in (
        ("workspace_id", "workspace_id"),
        ("status", "status"),
        ("created_by_user_id", "created_by"),
    ):
        value = single_value(request.query, parameter)
        if value is None:
            continue
        if field == "created_by":
            keys = [key for key in keys if (key.get("created_by") or {}).get("id") == value]
        else:
            keys = [key for key in keys if key.get(field) == value]
    return _list_page(request, keys)


def _workspaces_page(request: ApiRequest, state: ServingState) -> dict[str, Any]:
    check_known_parameters(request.query, ["limit", "after_id", "before_id", "include_archived"])
    include_archived = (single_value(request.query, "include_archived") or "false").lower()
    workspaces = state.store.anthropic_workspaces
    if include_archived != "true":
        workspaces = [item for item in workspaces if not item.get("archived_at")]
    return _list_page(request, workspaces)
