"""Requests, paging and row checks of the Anthropic Admin API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
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
from pipelines.anthropic.settings import (
    API_KEYS_PATH,
    API_VERSION,
    DROPPED_KEY_FIELDS,
    LIST_PAGE_SIZE,
    PROVIDER,
    TIMESTAMP_FIELDS,
    USAGE_COUNTS,
    WORKSPACES_PATH,
)


def make_client(admin_key: str, base_url: str, policy: RetryPolicy) -> AdminApiClient:
    """Return a client that authenticates with the `x-api-key` admin key."""
    headers = {"x-api-key": admin_key, "anthropic-version": API_VERSION}
    return AdminApiClient(PROVIDER, base_url, headers, policy)


def rfc3339(moment: dt.datetime) -> str:
    """Return a datetime as RFC 3339 in UTC with a `Z` suffix (`2025-08-01T00:00:00Z`)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: Any, field_name: str, where: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp with an offset into a UTC datetime.

    Raises:
        MalformedPageError: the value is not such a timestamp.
    """
    moment: dt.datetime | None = None
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise MalformedPageError(f"{where}: {field_name} {value!r} is not an RFC 3339 timestamp")
    return moment.astimezone(dt.UTC)


def bucket_params(window: ExtractWindow, group_by: Sequence[str], limit: int) -> dict[str, Any]:
    """Return the query of a daily report over `window`, grouped by every `group_by` value.

    `group_by` is sent with the bracket syntax the API expects (`group_by[]=model`).
    """
    return {
        "starting_at": rfc3339(window.start_at),
        "ending_at": rfc3339(window.end_at),
        "bucket_width": "1d",
        "limit": limit,
        "group_by[]": list(group_by),
    }


def bucket_bounds(bucket: Mapping[str, Any], where: str) -> tuple[dt.datetime, dt.datetime]:
    """Return the start and end of a bucket (`starting_at`, `ending_at` in RFC 3339)."""
    return (
        parse_rfc3339(bucket.get("starting_at"), "starting_at", where),
        parse_rfc3339(bucket.get("ending_at"), "ending_at", where),
    )


def usage_row(result: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return a usage report row, after checking that its token counts are integers."""
    check_counts(result, USAGE_COUNTS, where)
    return dict(result)


def cost_row(result: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return a cost report row with `amount` kept as the exact decimal string in cents.

    Raises:
        MalformedPageError: the amount is missing or not a decimal, or the currency is not USD.
    """
    currency = result.get("currency")
    if currency != "USD":
        raise MalformedPageError(
            f"{where}: currency {currency!r} is not USD; only US dollars are supported"
        )
    amount = result.get("amount")
    cents = exact_money(amount, "amount", where)
    row = dict(result)
    row["amount"] = amount if isinstance(amount, str) else format(cents, "f")
    return row


def read_report(
    client: AdminApiClient,
    path: str,
    group_by: Sequence[str],
    limit: int,
    is_costs: bool,
    extracted_at: dt.datetime,
    window: ExtractWindow,
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield `(page number, rows)` of the usage or cost report over `window`."""
    yield from read_bucket_pages(
        client,
        path,
        bucket_params(window, group_by, limit),
        window,
        bucket_bounds,
        cost_row if is_costs else usage_row,
        extracted_at,
    )


def lookup_row(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return a key or workspace object as a row: times as UTC datetimes, no key hint."""
    row = {key: value for key, value in item.items() if key not in DROPPED_KEY_FIELDS}
    for name in TIMESTAMP_FIELDS:
        value = row.get(name)
        if value is not None:
            row[name] = parse_rfc3339(value, name, where)
    return row


def read_api_keys(client: AdminApiClient) -> Iterator[list[dict[str, Any]]]:
    """Yield every API key of the organization, page by page."""
    params = {"limit": LIST_PAGE_SIZE}
    yield from read_list_pages(client, API_KEYS_PATH, params, "after_id", lookup_row)


def read_workspaces(client: AdminApiClient) -> Iterator[list[dict[str, Any]]]:
    """Yield every workspace, archived ones included, page by page."""
    params = {"limit": LIST_PAGE_SIZE, "include_archived": "true"}
    yield from read_list_pages(client, WORKSPACES_PATH, params, "after_id", lookup_row)
