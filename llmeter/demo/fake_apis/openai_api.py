"""Fake OpenAI Administration API: usage, costs, projects and project API keys.

Shapes follow the OpenAI OpenAPI spec (`UsageResponse`, `Usage*Result`, `CostsResult`,
`Project`, `ProjectApiKey`). Public integrations reported three live behaviours that the fake
copies. A `limit` over the maximum is rejected rather than clamped. Costs grouped by
`api_key_id` are rejected for windows that start before 2025-12-06. An unaligned `start_time`
gives a partial first bucket.
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
)
from llmeter.demo.fake_apis.store import (
    OPENAI_USAGE_ENDPOINTS,
    aggregate,
    exact_product,
    exact_sum,
    group_records,
)

ADMIN_KEY = "sk-admin-demo-llmeter-0123456789abcdef"

CURSOR_PREFIX = "page_"

# Costs grouped by api_key_id are rejected for windows that start before this epoch
# (2025-12-06T00:00:00Z), as the live API does.
COSTS_API_KEY_GROUPING_SINCE = 1_764_979_200

_COMMON_DIMENSIONS = ("project_id", "user_id", "api_key_id", "model")

USAGE_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "completions": (*_COMMON_DIMENSIONS, "batch", "service_tier"),
    "embeddings": _COMMON_DIMENSIONS,
    "moderations": _COMMON_DIMENSIONS,
    "images": (*_COMMON_DIMENSIONS, "size", "source"),
    "audio_speeches": _COMMON_DIMENSIONS,
    "audio_transcriptions": _COMMON_DIMENSIONS,
    "vector_stores": ("project_id",),
    "code_interpreter_sessions": ("project_id",),
    "file_search_calls": ("project_id", "user_id", "api_key_id", "vector_store_id"),
    "web_search_calls": (*_COMMON_DIMENSIONS, "context_level"),
}

USAGE_METRICS: dict[str, tuple[str, ...]] = {
    "completions": (
        "input_tokens",
        "input_cached_tokens",
        "input_cache_write_tokens",
        "input_uncached_tokens",
        "output_tokens",
        "input_text_tokens",
        "output_text_tokens",
        "input_cached_text_tokens",
        "input_audio_tokens",
        "input_cached_audio_tokens",
        "output_audio_tokens",
        "input_image_tokens",
        "input_cached_image_tokens",
        "output_image_tokens",
        "num_model_requests",
    ),
    "embeddings": ("input_tokens", "num_model_requests"),
    "moderations": ("input_tokens", "num_model_requests"),
    "images": ("images", "num_model_requests"),
    "audio_speeches": ("characters", "num_model_requests"),
    "audio_transcriptions": ("seconds", "num_model_requests"),
    "vector_stores": ("usage_bytes",),
    "code_interpreter_sessions": ("num_sessions",),
    "file_search_calls": ("num_requests",),
    "web_search_calls": ("num_model_requests", "num_requests"),
}

USAGE_RESULT_OBJECTS: dict[str, str] = {
    endpoint: f"organization.usage.{endpoint}.result" for endpoint in OPENAI_USAGE_ENDPOINTS
} | {
    "file_search_calls": "organization.usage.file_searches.result",
    "web_search_calls": "organization.usage.web_searches.result",
}

# Filter parameter -> the dimension it filters on; `batch` is a boolean filter of completions.
_COMMON_FILTERS = {
    "project_ids": "project_id",
    "user_ids": "user_id",
    "api_key_ids": "api_key_id",
    "models": "model",
}
USAGE_FILTERS: dict[str, dict[str, str]] = {
    "completions": _COMMON_FILTERS,
    "embeddings": _COMMON_FILTERS,
    "moderations": _COMMON_FILTERS,
    "images": _COMMON_FILTERS | {"sources": "source", "sizes": "size"},
    "audio_speeches": _COMMON_FILTERS,
    "audio_transcriptions": _COMMON_FILTERS,
    "vector_stores": {"project_ids": "project_id"},
    "code_interpreter_sessions": {"project_ids": "project_id"},
    "file_search_calls": {
        "project_ids": "project_id",
        "user_ids": "user_id",
        "api_key_ids": "api_key_id",
        "vector_store_ids": "vector_store_id",
    },
    "web_search_calls": _COMMON_FILTERS | {"context_levels": "context_level"},
}

COST_DIMENSIONS = ("line_item", "project_id", "api_key_id")
COST_FILTERS = {"project_ids": "project_id", "api_key_ids": "api_key_id"}

# (default, maximum) buckets per page.
USAGE_LIMITS: dict[str, tuple[int, int]] = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}
COSTS_LIMITS = (7, 180)
LIST_LIMITS = (20, 100)

_REPORT_PARAMETERS = ("start_time", "end_time", "bucket_width", "limit", "page")


def authenticate(request: ApiRequest) -> None:
    """Check the `Authorization: Bearer` admin key.

    Raises:
        ApiError: 401 when the key is missing or is not the admin key.
    """
    authorization = request.header("Authorization")
    if not authorization or not authorization.startswith("Bearer ") or not authorization[7:]:
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            code=None,
        )
    if authorization[7:] != ADMIN_KEY:
        raise ApiError(
            401,
            "Incorrect API key provided. The organization usage, costs, projects and API key "
            "endpoints require an admin key (sk-admin-...).",
            code="invalid_api_key",
        )


def render_error(error: ApiError) -> dict[str, Any]:
    """Return the OpenAI error body of `error`."""
    return {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }


def error_for_status(status: int) -> ApiError:
    """Return the error OpenAI sends for an injected failure status (429, 500, 503)."""
    if status == 429:
        return ApiError(
            429,
            "Rate limit reached for requests. Please try again later.",
            error_type="requests",
            code="rate_limit_exceeded",
        )
    if status == 503:
        return ApiError(
            503, "The server is overloaded. Please try again later.", error_type="server_error"
        )
    return ApiError(
        status, "The server had an error while processing your request.", error_type="server_error"
    )


def handle(request: ApiRequest, state: ServingState) -> ApiResponse:
    """Serve one authenticated request below `/v1`.

    Raises:
        ApiError: invalid parameters (400) or an unknown path (404).
    """
    parts = request.path.strip("/").split("/")
    if request.method == "GET" and parts[:2] == ["v1", "organization"]:
        rest = parts[2:]
        if len(rest) == 2 and rest[0] == "usage" and rest[1] in OPENAI_USAGE_ENDPOINTS:
            return ApiResponse(200, _usage_page(request, state, rest[1]))
        if rest == ["costs"]:
            return ApiResponse(200, _costs_page(request, state))
        if rest == ["projects"]:
            return ApiResponse(200, _projects_page(request, state))
        if len(rest) == 3 and rest[0] == "projects" and rest[2] == "api_keys":
            return ApiResponse(200, _project_api_keys_page(request, state, rest[1]))
    raise ApiError(404, f"Invalid URL ({request.method} {request.path})")


def _parse_limit(query: Mapping[str, Sequence[str]], default: int, maximum: int) -> int:
    limit = parse_int(query, "limit")
    if limit is None:
        return default
    if limit < 1:
        raise ApiError(
            400,
            f"Invalid limit provided: {limit}. Limit must be greater than or equal to 1.",
            param="limit",
        )
    if limit > maximum:
        raise ApiError(
            400,
            f"Invalid limit provided: {limit}. Limit must be less than or equal to {maximum}.",
            param="limit",
        )
    return limit


def _parse_group_by(
    query: Mapping[str, Sequence[str]], allowed: Sequence[str], endpoint: str
) -> list[str]:
    grouped: list[str] = []
    for value in query_values(query, "group_by"):
        if value not in allowed:
            raise ApiError(
                400,
                f"Invalid group_by value provided: {value}. The {endpoint} endpoint accepts: "
                + ", ".join(allowed)
                + ".",
                param="group_by",
            )
        if value not in grouped:
            grouped.append(value)
    return grouped


def _parse_filters(
    query: Mapping[str, Sequence[str]], filters: Mapping[str, str]
) -> dict[str, set[Any]]:
    selected: dict[str, set[Any]] = {}
    for parameter, dimension in filters.items():
        values = query_values(query, parameter)
        if values:
            selected[dimension] = set(values)
    return selected


def _parse_batch_filter(query: Mapping[str, Sequence[str]]) -> bool | None:
    value = single_value(query, "batch")
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise ApiError(400, f"Invalid batch provided: {value}. Expected true or false.")
    return value.lower() == "true"


def _matches(record: Mapping[str, Any], filters: Mapping[str, set[Any]]) -> bool:
    return all(record.get(dimension) in values for dimension, values in filters.items())


def _allowed_parameters(filters: Mapping[str, str], extra: Sequence[str] = ()) -> list[str]:
    names = [*_REPORT_PARAMETERS, "group_by", "group_by[]", *extra]
    for parameter in filters:
        names += [parameter, f"{parameter}[]"]
    return names


def _bucketed_page(
    request: ApiRequest,
    state: ServingState,
    *,
    limits: Mapping[str, tuple[int, int]],
    results_for_day: Callable[[dt.date], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Return one page of daily-data buckets in the `UsageResponse` envelope."""
    query = request.query
    start_time = parse_int(query, "start_time")
    if start_time is None:
        raise ApiError(400, "Missing required parameter: 'start_time'.", param="start_time")
    end_time = parse_int(query, "end_time")
    if end_time is not None and end_time <= start_time:
        raise ApiError(
            400,
            f"Invalid end_time provided: {end_time}. end_time must be after start_time "
            f"({start_time}).",
            param="end_time",
        )
    bucket_width = single_value(query, "bucket_width") or "1d"
    if bucket_width not in limits:
        raise ApiError(
            400,
            f"Invalid bucket_width provided: {bucket_width}. Expected one of: "
            + ", ".join(limits)
            + ".",
            param="bucket_width",
        )
    default_limit, max_limit = limits[bucket_width]
    limit = _parse_limit(query, default_limit, max_limit)

    # The bucket that contains `now` is served (incomplete) but no later one.
    range_end = epoch(state.now) if end_time is None else min(end_time, epoch(state.now))
    width = BUCKET_WIDTH_SECONDS[bucket_width]
    grid = bucket_grid(start_time, range_end, width)

    fingerprint = query_fingerprint(request.path, query)
    cursor = single_value(query, "page")
    first_start = None if cursor is None else decode_cursor(cursor, CURSOR_PREFIX, fingerprint)
    page = page_buckets(grid, first_start, limit)

    data = []
    for bucket_start, bucket_end in page.buckets:
        day = bucket_day(bucket_start, start_time, state.now)
        data.append(
            {
                "object": "bucket",
                "start_time": bucket_start,
                "end_time": bucket_end,
                "results": [] if day is None else results_for_day(day),
            }
        )
    next_page = (
        None
        if page.next_start is None
        else encode_cursor(CURSOR_PREFIX, fingerprint, page.next_start)
    )
    return {
        "object": "page",
        "data": data,
        "has_more": next_page is not None,
        "next_page": next_page,
    }


def _usage_page(request: ApiRequest, state: ServingState, endpoint: str) -> dict[str, Any]:
    filters_by_parameter = USAGE_FILTERS[endpoint]
    extra = ("batch",) if endpoint == "completions" else ()
    check_known_parameters(request.query, _allowed_parameters(filters_by_parameter, extra))
    dimensions = USAGE_DIMENSIONS[endpoint]
    grouped = _parse_group_by(request.query, dimensions, endpoint)
    filters = _parse_filters(request.query, filters_by_parameter)
    if endpoint == "completions":
        batch = _parse_batch_filter(request.query)
        if batch is not None:
            filters["batch"] = {batch}
    metrics = USAGE_METRICS[endpoint]
    result_object = USAGE_RESULT_OBJECTS[endpoint]

    def results_for_day(day: dt.date) -> list[dict[str, Any]]:
        records = state.store.day_records("openai", "usage", day, endpoint=endpoint)
        selected = [record for record in records if _matches(record, filters)]
        return [
            {"object": result_object, **sums, **values}
            for values, sums in aggregate(selected, dimensions, grouped, metrics)
        ]

    return _bucketed_page(request, state, limits=USAGE_LIMITS, results_for_day=results_for_day)


def _costs_page(request: ApiRequest, state: ServingState) -> dict[str, Any]:
    check_known_parameters(request.query, _allowed_parameters(COST_FILTERS))
    grouped = _parse_group_by(request.query, COST_DIMENSIONS, "costs")
    start_time = parse_int(request.query, "start_time")
    if (
        "api_key_id" in grouped
        and start_time is not None
        and start_time < COSTS_API_KEY_GROUPING_SINCE
    ):
        raise ApiError(
            400,
            f"Grouping costs by api_key_id is only supported for start_time on or after "
            f"{COSTS_API_KEY_GROUPING_SINCE} (2025-12-06T00:00:00Z); got {start_time}.",
            param="group_by",
        )
    filters = _parse_filters(request.query, COST_FILTERS)
    by_line_item = "line_item" in grouped

    def results_for_day(day: dt.date) -> list[dict[str, Any]]:
        if day in state.dropped_cost_days:
            return []
        records = state.store.day_records("openai", "costs", day)
        selected = [record for record in records if _matches(record, filters)]
        results = []
        for values, group in group_records(selected, COST_DIMENSIONS, grouped):
            amount = exact_sum(record["amount_usd"] for record in group)
            results.append(
                {
                    "object": "organization.costs.result",
                    "amount": {
                        "value": exact_product(Decimal(amount), state.amount_factor),
                        "currency": "usd",
                    },
                    "line_item": values["line_item"],
                    "project_id": values["project_id"],
                    "api_key_id": values["api_key_id"],
                    "quantity": _quantity(group) if by_line_item else None,
                    "quantity_unit": _quantity_unit(group) if by_line_item else None,
                }
            )
        return results

    return _bucketed_page(
        request, state, limits={"1d": COSTS_LIMITS}, results_for_day=results_for_day
    )


def _quantity(records: Sequence[Mapping[str, Any]]) -> int | Decimal | None:
    """Sum the quantities of one line item; None when any record has none."""
    quantities = [record.get("quantity") for record in records]
    if any(quantity is None for quantity in quantities):
        return None
    return exact_sum(quantity for quantity in quantities if quantity is not None)


def _quantity_unit(records: Sequence[Mapping[str, Any]]) -> str | None:
    """Return the unit the records share, None when they have none or several."""
    units = {record.get("quantity_unit") for record in records}
    return units.pop() if len(units) == 1 else None


def _list_page(
    request: ApiRequest, items: Sequence[Mapping[str, Any]], extra_parameters: Sequence[str] = ()
) -> dict[str, Any]:
    """Return one page of an OpenAI list endpoint (`limit` and the `after` id cursor)."""
    check_known_parameters(request.query, ["limit", "after", *extra_parameters])
    limit = _parse_limit(request.query, *LIST_LIMITS)
    after = single_value(request.query, "after")
    start = 0
    if after is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise ApiError(400, f"Invalid after provided: {after}. No such id.", param="after")
        start = ids.index(after) + 1
    page = list(items[start : start + limit])
    return {
        "object": "list",
        "data": page,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": start + limit < len(items),
    }


def _projects_page(request: ApiRequest, state: ServingState) -> dict[str, Any]:
    include_archived = (single_value(request.query, "include_archived") or "false").lower()
    projects = state.store.openai_projects
    if include_archived != "true":
        projects = [project for project in projects if project.get("status") != "archived"]
    return _list_page(request, projects, extra_parameters=("include_archived",))


def _project_api_keys_page(
    request: ApiRequest, state: ServingState, project_id: str
) -> dict[str, Any]:
    if not any(project.get("id") == project_id for project in state.store.openai_projects):
        raise ApiError(404, f"No project found with id '{project_id}'.")
    # The stored keys name their project in `project_id`, which the API's key object lacks.
    keys = [
        {name: value for name, value in key.items() if name != "project_id"}
        for key in state.store.openai_api_keys
        if key.get("project_id") == project_id
    ]
    return _list_page(request, keys)
