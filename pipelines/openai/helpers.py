"""Requests, paging and row checks of the OpenAI Administration API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from pipelines.admin_api import (
    AdminApiClient,
    ExtractWindow,
    MalformedPageError,
    RetryPolicy,
    check_counts,
    exact_money,
    read_bucket_pages,
    read_list_pages,
)
from pipelines.openai.settings import (
    DROPPED_KEY_FIELDS,
    EPOCH_FIELDS,
    LIST_PAGE_SIZE,
    PROJECT_API_KEYS_PATH,
    PROJECTS_PATH,
    PROVIDER,
)


def make_client(admin_key: str, base_url: str, policy: RetryPolicy) -> AdminApiClient:
    """Return a client that authenticates with `Authorization: Bearer <admin key>`."""
    return AdminApiClient(PROVIDER, base_url, {"Authorization": f"Bearer {admin_key}"}, policy)


def bucket_params(window: ExtractWindow, group_by: Sequence[str], limit: int) -> dict[str, Any]:
    """Return the query of a daily report over `window`, grouped by every `group_by` value.

    `group_by` is sent as repeated `group_by=` parameters.
    """
    return {
        "start_time": int(window.start_at.timestamp()),
        "end_time": int(window.end_at.timestamp()),
        "bucket_width": "1d",
        "limit": limit,
        "group_by": list(group_by),
    }


def epoch_seconds(value: Any, field_name: str, where: str) -> dt.datetime:
    """Return Unix seconds as a UTC datetime.

    Raises:
        MalformedPageError: the value is not an integer.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedPageError(f"{where}: {field_name} {value!r} is not Unix seconds")
    return dt.datetime.fromtimestamp(value, dt.UTC)


def bucket_bounds(bucket: Mapping[str, Any], where: str) -> tuple[dt.datetime, dt.datetime]:
    """Return the start and end of a bucket (`start_time`, `end_time` in Unix seconds)."""
    return (
        epoch_seconds(bucket.get("start_time"), "start_time", where),
        epoch_seconds(bucket.get("end_time"), "end_time", where),
    )


def usage_row(counts: Sequence[str], result: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return a usage result as a row, after checking that its counts are integers."""
    check_counts(result, counts, where)
    return dict(result)


def cost_row(result: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return a cost result as a row, with `amount.value` and `quantity` as exact Decimals.

    Raises:
        MalformedPageError: the amount is missing, not a number or not in US dollars.
    """
    amount = result.get("amount")
    if not isinstance(amount, dict):
        raise MalformedPageError(f"{where}: a cost result has no `amount` object")
    currency = amount.get("currency")
    if not isinstance(currency, str) or currency.lower() != "usd":
        raise MalformedPageError(
            f"{where}: amount currency {currency!r} is not usd; only US dollars are supported"
        )
    row = dict(result)
    row["amount"] = {**amount, "value": exact_money(amount.get("value"), "amount.value", where)}
    if result.get("quantity") is not None:
        row["quantity"] = exact_money(result["quantity"], "quantity", where)
    return row


def read_usage(
    client: AdminApiClient,
    path: str,
    group_by: Sequence[str],
    limit: int,
    counts: Sequence[str],
    extracted_at: dt.datetime,
    window: ExtractWindow,
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield `(page number, rows)` of a usage endpoint over `window`."""
    yield from read_bucket_pages(
        client,
        path,
        bucket_params(window, group_by, limit),
        window,
        bucket_bounds,
        partial(usage_row, counts),
        extracted_at,
    )


def read_costs(
    client: AdminApiClient,
    path: str,
    group_by: Sequence[str],
    limit: int,
    extracted_at: dt.datetime,
    window: ExtractWindow,
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield `(page number, rows)` of the costs endpoint over `window`."""
    yield from read_bucket_pages(
        client,
        path,
        bucket_params(window, group_by, limit),
        window,
        bucket_bounds,
        cost_row,
        extracted_at,
    )


def lookup_row(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return a project or key object as a row: Unix-second times as UTC datetimes, no key."""
    row = {key: value for key, value in item.items() if key not in DROPPED_KEY_FIELDS}
    for name in EPOCH_FIELDS:
        value = row.get(name)
        if value is not None:
            row[name] = epoch_seconds(value, name, where)
    return row


def read_projects(client: AdminApiClient) -> Iterator[list[dict[str, Any]]]:
    """Yield every project, archived ones included, page by page."""
    params = {"limit": LIST_PAGE_SIZE, "include_archived": "true"}
    yield from read_list_pages(client, PROJECTS_PATH, params, "after", lookup_row)


def read_api_keys(client: AdminApiClient) -> Iterator[list[dict[str, Any]]]:
    """Yield every project API key, each with the `project_id` of its project, page by page."""
    project_ids = [
        project["id"] for page in read_projects(client) for project in page if project.get("id")
    ]
    for project_id in project_ids:
        path = PROJECT_API_KEYS_PATH.format(project_id=project_id)
        params = {"limit": LIST_PAGE_SIZE}
        for page in read_list_pages(client, path, params, "after", lookup_row):
            yield [{**key, "project_id": project_id} for key in page]
