"""Per-record rules of the call-log record format, schema version 1.

The rules are the ones of `schemas/call_log_record.v1.json`, plus the two that JSON Schema cannot
express: token counts written as `120.0` are invalid, and `occurred_at` must name a day that
exists. They are written out here, not run through a JSON Schema validator, so that each
rejection gets a short reason and the endpoint needs no extra package.

Reasons never quote a field's value, because a misplaced value could be prompt text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

SCHEMA_VERSION = 1
PROVIDERS = frozenset({"openai", "anthropic", "google"})
RESERVED_CUSTOMER_IDS = frozenset({"(unattributed)", "(none)"})
CONTENT_FIELDS = frozenset(
    {
        "prompt",
        "messages",
        "input",
        "completion",
        "content",
        "output",
        "response",
        "choices",
        "text",
        "system",
        "instructions",
    }
)
TOKEN_FIELDS = (
    "input_uncached_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "web_search_requests",
)
OPTIONAL_STRING_FIELDS = (
    "request_id",
    "service_tier",
    "project_id",
    "workspace_id",
    "api_key_id",
    "status",
)
REQUIRED_FIELDS = ("event_id", "occurred_at", "provider", "model", "customer_id")
KNOWN_FIELDS = frozenset(
    {
        *REQUIRED_FIELDS,
        *TOKEN_FIELDS,
        *OPTIONAL_STRING_FIELDS,
        "is_batch",
        "tags",
        "latency_ms",
        "schema_version",
    }
)
MAX_EVENT_ID_LENGTH = 128
MAX_CUSTOMER_ID_LENGTH = 256
MAX_BIGINT = 2**63 - 1
# No LLM call has a trillion tokens, so a larger count is a client bug. Accepting it would let
# one record overflow the DECIMAL arithmetic of pricing and allocation.
MAX_TOKEN_COUNT = 10**12

# RFC 3339 date-time with a required offset; seconds 00-59 (no leap second).
_RFC3339 = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


@dataclass(frozen=True)
class RecordCheck:
    """The outcome of checking one record.

    Attributes:
        record: the record's known fields, content fields removed, when it is valid; else None.
        reason: why the record is invalid; None when it is valid.
        content_fields: the content field names the record carried (their values are dropped).
    """

    record: dict[str, Any] | None
    reason: str | None
    content_fields: tuple[str, ...]


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float | Decimal):
        return "a number with a fraction or exponent"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_occurred_at(value: str) -> dt.datetime | None:
    """Parse an RFC 3339 date-time with an offset into a UTC datetime, or None when invalid.

    Fractions beyond microseconds are truncated.
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    offset_text = match["offset"]
    if offset_text in {"Z", "z"}:
        offset = dt.timedelta(0)
    else:
        hours, minutes = int(offset_text[1:3]), int(offset_text[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = dt.timedelta(hours=hours, minutes=minutes)
        if offset_text[0] == "-":
            offset = -offset
    try:
        local = dt.datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=dt.timezone(offset),
        )
    except ValueError:
        return None
    return local.astimezone(dt.UTC)


def _check_bounded_string(value: object, field: str, max_length: int | None) -> str | None:
    if not isinstance(value, str):
        return f"{field} must be a string, got {_type_name(value)}"
    if not value:
        return f"{field} must not be empty"
    if max_length is not None and len(value) > max_length:
        return f"{field} has {len(value)} characters; the maximum is {max_length}"
    return None


def _check_count(
    value: object, field: str, nullable: bool = False, maximum: int = MAX_BIGINT
) -> str | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{field} must be a JSON integer >= 0, got {_type_name(value)}"
    if value < 0:
        return f"{field} must be >= 0, got a negative integer"
    if value > maximum:
        return f"{field} exceeds the maximum {maximum}"
    return None


def _check_required(record: Mapping[str, Any]) -> str | None:
    missing = [field for field in REQUIRED_FIELDS if field not in record]
    if missing:
        return "missing required field" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)

    reason = _check_bounded_string(record["event_id"], "event_id", MAX_EVENT_ID_LENGTH)
    if reason:
        return reason

    occurred_at = record["occurred_at"]
    if not isinstance(occurred_at, str):
        return f"occurred_at must be a string, got {_type_name(occurred_at)}"
    if parse_occurred_at(occurred_at) is None:
        return "occurred_at is not an RFC 3339 date-time with an offset, like 2026-11-01T12:00:00Z"

    provider = record["provider"]
    if not isinstance(provider, str) or provider not in PROVIDERS:
        return "provider must be one of " + ", ".join(sorted(PROVIDERS))

    reason = _check_bounded_string(record["model"], "model", None)
    if reason:
        return reason

    customer_id = record["customer_id"]
    reason = _check_bounded_string(customer_id, "customer_id", MAX_CUSTOMER_ID_LENGTH)
    if reason:
        return reason
    if customer_id in RESERVED_CUSTOMER_IDS:
        return f"customer_id {customer_id} is a reserved identifier"
    return None


def _check_optional(record: Mapping[str, Any]) -> str | None:
    for field in TOKEN_FIELDS:
        if field in record:
            reason = _check_count(record[field], field, maximum=MAX_TOKEN_COUNT)
            if reason:
                return reason

    for field in OPTIONAL_STRING_FIELDS:
        value = record.get(field)
        if value is not None and not isinstance(value, str):
            return f"{field} must be a string or null, got {_type_name(value)}"

    if "is_batch" in record and not isinstance(record["is_batch"], bool):
        return f"is_batch must be a boolean, got {_type_name(record['is_batch'])}"

    if "tags" in record:
        tags = record["tags"]
        if not isinstance(tags, dict):
            return f"tags must be an object of string to string, got {_type_name(tags)}"
        for key, value in tags.items():
            if not isinstance(value, str):
                return f"tag {key[:64]!r} must have a string value, got {_type_name(value)}"

    if "latency_ms" in record:
        reason = _check_count(record["latency_ms"], "latency_ms", nullable=True)
        if reason:
            return reason

    if "schema_version" in record:
        version = record["schema_version"]
        if isinstance(version, bool) or not isinstance(version, int):
            return f"schema_version must be the integer {SCHEMA_VERSION}, got {_type_name(version)}"
        if version != SCHEMA_VERSION:
            return f"schema_version {version} is not supported; this endpoint reads version 1"
    return None


def check_record(value: object) -> RecordCheck:
    """Check one decoded JSON value against the record rules.

    Content fields are removed first, whether or not the record is valid, so that they never
    reach a spool file or a log. Unknown fields are ignored and left out of the returned record.

    Args:
        value: one record as decoded by `json.loads(..., parse_float=Decimal)`.

    Returns:
        The check result: the record to store, or the reason it is invalid.
    """
    if not isinstance(value, dict):
        return RecordCheck(None, f"a record must be a JSON object, got {_type_name(value)}", ())

    content_fields = tuple(sorted(field for field in value if field in CONTENT_FIELDS))
    record = {field: item for field, item in value.items() if field in KNOWN_FIELDS}

    reason = _check_required(record) or _check_optional(record)
    if reason:
        return RecordCheck(None, reason, content_fields)
    return RecordCheck(record, None, content_fields)
