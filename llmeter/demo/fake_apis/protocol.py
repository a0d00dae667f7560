"""Parts both fake Admin APIs share: requests, errors, exact JSON, time buckets, page cursors."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from llmeter.demo.fake_apis.store import ProviderDataStore

DAY_SECONDS = 86_400
BUCKET_WIDTH_SECONDS: dict[str, int] = {"1m": 60, "1h": 3_600, "1d": DAY_SECONDS}


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request, with the path below the provider prefix (`/v1/...`)."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]]
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        """Return a header value by case-insensitive name, None when absent."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class ServingState:
    """The data, simulated time and active faults that one request is served from.

    Attributes:
        store: the daily records.
        now: the simulated current time (UTC); no data of a day that ends after it is served.
        amount_factor: multiplier on every served cost amount (1 unless a fault scales them).
        dropped_cost_days: days whose cost bucket is served empty.
    """

    store: ProviderDataStore
    now: dt.datetime
    amount_factor: Decimal = Decimal(1)
    dropped_cost_days: frozenset[dt.date] = frozenset()


@dataclass
class ApiResponse:
    """A JSON response before serialization."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """An error response; each provider module renders it in that provider's error shape.

    Attributes:
        status: HTTP status.
        message: human-readable message.
        error_type: the provider's error type (`invalid_request_error`, `authentication_error`).
        code: OpenAI's error code (`invalid_api_key`), None where the provider has none.
        param: the query parameter at fault, None when not about one parameter.
        headers: extra response headers (`Retry-After`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})


def dumps_exact(value: Any) -> str:
    """Serialize to JSON, writing each Decimal as a JSON number with exactly its digits.

    `json.dumps` cannot write a Decimal as a number, and going through float would round it.
    A Decimal is written in fixed-point notation (`Decimal("1E-7")` becomes `0.0000001`).

    Raises:
        TypeError: a value is not JSON-serializable or a Decimal is not finite.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"Decimal {value} is not a finite number")
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(key))}: {dumps_exact(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps_exact(item) for item in value) + "]"
    if isinstance(value, float):
        raise TypeError(f"float {value!r} in a response; money and counts must be int or Decimal")
    return json.dumps(value)


def query_values(query: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """Return the values of an array parameter given as `name` or `name[]` (repeated or not)."""
    return [*query.get(name, ()), *query.get(f"{name}[]", ())]


def single_value(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    """Return a scalar parameter, None when absent.

    Raises:
        ApiError: the parameter is given more than once.
    """
    values = query.get(name, ())
    if len(values) > 1:
        raise ApiError(400, f"Parameter {name} must be given once, got {len(values)} values.")
    return values[0] if values else None


def parse_int(query: Mapping[str, Sequence[str]], name: str) -> int | None:
    """Return an integer parameter, None when absent.

    Raises:
        ApiError: the value is not an integer.
    """
    value = single_value(query, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"Invalid {name} provided: {value}. Expected an integer.") from None


def check_known_parameters(query: Mapping[str, Sequence[str]], known: Sequence[str]) -> None:
    """Reject parameters the endpoint does not define, so a misspelled filter is not ignored.

    Raises:
        ApiError: an unknown parameter was given.
    """
    unknown = sorted(set(query) - set(known))
    if unknown:
        raise ApiError(
            400,
            f"Unknown parameter {unknown[0]}. This endpoint accepts: {', '.join(known)}.",
            param=unknown[0],
        )


def epoch(moment: dt.datetime) -> int:
    """Return a timezone-aware datetime as Unix seconds."""
    return int(moment.timestamp())


def utc_from_epoch(seconds: int) -> dt.datetime:
    """Return Unix seconds as a UTC datetime."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def day_start(day: dt.date) -> int:
    """Return the Unix seconds of a UTC day's midnight."""
    return epoch(dt.datetime.combine(day, dt.time(), dt.UTC))


def bucket_grid(range_start: int, range_end: int, width: int) -> list[tuple[int, int]]:
    """Return the (start, end) buckets from `range_start` until `range_end`.

    Boundaries are multiples of `width` (UTC midnights for `1d`). An unaligned `range_start`
    gives a first bucket that starts at it and ends at the next boundary. A bucket is in the
    grid when it starts before `range_end`; its end stays on the boundary.
    """
    buckets = []
    start = range_start
    while start < range_end:
        end = (start // width + 1) * width
        buckets.append((start, end))
        start = end
    return buckets


def bucket_day(bucket_start: int, range_start: int, now: dt.datetime) -> dt.date | None:
    """Return the day whose records a bucket serves, None when it serves none.

    The store contains whole days. A day's records go to the bucket that contains its midnight,
    or to the first bucket when the range starts during that day. A day is served only once it
    is complete, that is once `now` is at or after the next midnight.
    """
    day = utc_from_epoch(bucket_start).date()
    # NOTE: the store contains daily totals only, so hourly and minute buckets put the whole
    # day into the day's first bucket, and an unaligned start serves the whole first day.
    if bucket_start not in (day_start(day), range_start):
        return None
    if day_start(day) + DAY_SECONDS > epoch(now):
        return None
    return day


def query_fingerprint(path: str, query: Mapping[str, Sequence[str]]) -> str:
    """Return a digest of the path and every parameter except `page`."""
    canonical = json.dumps(
        [path, sorted((key, list(values)) for key, values in query.items() if key != "page")]
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def encode_cursor(prefix: str, fingerprint: str, next_start: int) -> str:
    """Return an opaque page cursor that names its query and the next bucket's start."""
    payload = json.dumps({"q": fingerprint, "next": next_start}).encode()
    return prefix + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, prefix: str, fingerprint: str) -> int:
    """Return the next bucket start stored in a page cursor.

    Raises:
        ApiError: the cursor is malformed, or it belongs to a request with other parameters.
    """
    invalid = ApiError(400, f"Invalid page cursor: {cursor!r}.", param="page")
    if not cursor.startswith(prefix):
        raise invalid
    encoded = cursor[len(prefix) :]
    try:
        payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(payload, dict) or not isinstance(payload.get("next"), int):
        raise invalid
    if payload.get("q") != fingerprint:
        raise ApiError(
            400,
            "The page cursor belongs to a request with different parameters. Keep every "
            "parameter identical while paging, or start again without page.",
            param="page",
        )
    return int(payload["next"])


@dataclass(frozen=True)
class BucketPage:
    """The buckets of one page and the cursor of the next, None on the last page."""

    buckets: list[tuple[int, int]]
    next_start: int | None


def page_buckets(
    buckets: Sequence[tuple[int, int]], first_start: int | None, limit: int
) -> BucketPage:
    """Cut a page of `limit` buckets, starting at the bucket that starts at `first_start`."""
    remaining = [bucket for bucket in buckets if first_start is None or bucket[0] >= first_start]
    page = remaining[:limit]
    next_start = remaining[limit][0] if len(remaining) > limit else None
    return BucketPage(buckets=page, next_start=next_start)
