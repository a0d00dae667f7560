"""Paging through Admin API reports and lists, and the checks each page must pass."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.admin_api.client import AdminApiClient, MalformedPageError
from pipelines.admin_api.windows import DAY, ExtractWindow, utc_midnight

MAX_PAGES = 10_000
MONEY_QUANTUM = Decimal("1e-18")


def check_bucket_bounds(
    start: dt.datetime, end: dt.datetime, window: ExtractWindow, where: str
) -> None:
    """Check that a bucket is one whole UTC day inside `window`.

    Raises:
        MalformedPageError: the bucket is not aligned, not one day long or outside the window.
    """
    if start != utc_midnight(start.date()) or end - start != DAY:
        raise MalformedPageError(
            f"{where}: bucket {start.isoformat()} to {end.isoformat()} is not one UTC day"
        )
    if not window.start_at <= start < window.end_at:
        raise MalformedPageError(
            f"{where}: bucket {start.isoformat()} is outside the requested window "
            f"{window.start} to {window.end}"
        )


def paginate(
    client: AdminApiClient, path: str, params: Mapping[str, Any], where_label: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield `(page number, page)` of a bucketed report, following `next_page`.

    Every parameter stays the same from page to page; only `page` is added.

    Raises:
        MalformedPageError: a page lacks `data`, `has_more` or a `next_page` while
            `has_more` is true, or a cursor repeats.
    """
    cursor: str | None = None
    seen: set[str] = set()
    for page_number in range(1, MAX_PAGES + 1):
        page_params = dict(params)
        if cursor is not None:
            page_params["page"] = cursor
        page = client.get_json(path, page_params, page_number)
        where = f"{where_label} page {page_number}"
        if not isinstance(page.get("data"), list):
            raise MalformedPageError(f"{where}: `data` is missing or not a list")
        has_more = page.get("has_more")
        if not isinstance(has_more, bool):
            raise MalformedPageError(f"{where}: `has_more` is missing or not a boolean")
        yield page_number, page
        if not has_more:
            return
        next_page = page.get("next_page")
        if not isinstance(next_page, str) or not next_page:
            raise MalformedPageError(f"{where}: `has_more` is true but `next_page` is missing")
        if next_page in seen:
            raise MalformedPageError(f"{where}: `next_page` repeats an earlier cursor")
        seen.add(next_page)
        cursor = next_page
    raise MalformedPageError(f"{where_label}: more than {MAX_PAGES} pages")


BucketBounds = Callable[[Mapping[str, Any], str], tuple[dt.datetime, dt.datetime]]
RowPreparer = Callable[[Mapping[str, Any], str], dict[str, Any]]


def read_bucket_pages(
    client: AdminApiClient,
    path: str,
    params: Mapping[str, Any],
    window: ExtractWindow,
    bucket_bounds: BucketBounds,
    prepare_row: RowPreparer,
    extracted_at: dt.datetime,
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield `(page number, rows)` of a daily report over `window`.

    Each row is one result of a bucket, prepared by `prepare_row(result, where)`, plus
    `bucket_start_at`, `bucket_end_at` and `extracted_at`. `bucket_bounds(bucket, where)`
    returns a bucket's start and end.

    Raises:
        MalformedPageError: a page, bucket or result does not have the documented shape.
    """
    label = f"{client.provider.title} {path}"
    for page_number, page in paginate(client, path, params, label):
        where = f"{label} page {page_number}"
        rows: list[dict[str, Any]] = []
        for bucket in page["data"]:
            results = require_results(bucket, where)
            start, end = bucket_bounds(bucket, where)
            check_bucket_bounds(start, end, window, where)
            for result in results:
                row = prepare_row(result, where)
                row.update(bucket_start_at=start, bucket_end_at=end, extracted_at=extracted_at)
                rows.append(row)
        yield page_number, rows


def read_list_pages(
    client: AdminApiClient,
    path: str,
    params: Mapping[str, Any],
    cursor_parameter: str,
    prepare_item: RowPreparer,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the objects of a list endpoint page by page.

    The next page is requested with `cursor_parameter` (`after` or `after_id`) set to the
    page's `last_id`, while `has_more` is true.

    Raises:
        MalformedPageError: a page lacks `data`, or names no new `last_id` while `has_more`
            is true.
    """
    cursor: str | None = None
    for page_number in range(1, MAX_PAGES + 1):
        page_params = dict(params)
        if cursor is not None:
            page_params[cursor_parameter] = cursor
        page = client.get_json(path, page_params, page_number)
        where = f"{client.provider.title} {path} page {page_number}"
        items = page.get("data")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise MalformedPageError(f"{where}: `data` is missing or not a list of objects")
        yield [prepare_item(item, where) for item in items]
        if page.get("has_more") is not True:
            return
        last_id = page.get("last_id")
        if not isinstance(last_id, str) or not last_id or last_id == cursor:
            raise MalformedPageError(f"{where}: `has_more` is true but `last_id` is missing")
        cursor = last_id
    raise MalformedPageError(f"{client.provider.title} {path}: more than {MAX_PAGES} pages")


def require_results(bucket: Any, where: str) -> list[dict[str, Any]]:
    """Return a bucket's `results`, checking that it is a list of objects."""
    if not isinstance(bucket, dict):
        raise MalformedPageError(f"{where}: a bucket is not an object")
    results = bucket.get("results")
    if not isinstance(results, list) or not all(isinstance(row, dict) for row in results):
        raise MalformedPageError(f"{where}: `results` is missing or not a list of objects")
    return results


def check_counts(row: Mapping[str, Any], fields: Sequence[str], where: str) -> None:
    """Check that the count fields of a row are integers or null.

    `fields` are dotted paths into nested objects (`cache_creation.ephemeral_5m_input_tokens`).

    Raises:
        MalformedPageError: a count is a string, a fraction or a boolean.
    """
    for path in fields:
        value: Any = row
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise MalformedPageError(f"{where}: {path} {value!r} is not an integer")


def exact_money(value: Any, field_name: str, where: str) -> Decimal:
    """Return a JSON number or decimal string as a Decimal with at most 18 decimal places.

    Raises:
        MalformedPageError: the value is not a finite decimal number.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise MalformedPageError(f"{where}: {field_name} {value!r} is not a decimal number")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise MalformedPageError(
            f"{where}: {field_name} {value!r} is not a decimal number"
        ) from None
    if not amount.is_finite():
        raise MalformedPageError(f"{where}: {field_name} {value!r} is not a finite number")
    # NOTE: JSON numbers written from binary floats can carry more than 18 decimal places;
    # DECIMAL(38, 18) keeps 18, so the rest is rounded half-even (an error below 1e-18).
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        amount = amount.quantize(MONEY_QUANTUM)
    return amount
