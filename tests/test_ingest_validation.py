"""The record rules of llmeter.ingest.validation, checked against the JSON Schema file.

Each case runs through `check_record` and through a JSON Schema 2020-12 validator of
`schemas/call_log_record.v1.json`, and both must agree. The two rules that JSON Schema cannot
express, named in the schema's $comment, have tests of their own.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from llmeter.ingest.validation import CONTENT_FIELDS, check_record, parse_occurred_at

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((PROJECT_ROOT / "schemas/call_log_record.v1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

VALID = {
    "event_id": "6f1c2d3e-0000-4000-8000-000000000001",
    "occurred_at": "2026-10-31T23:59:59.123456Z",
    "provider": "anthropic",
    "model": "claude-sonnet-4-5-20250929",
    "customer_id": "acme",
}


def with_fields(**changes: Any) -> dict[str, Any]:
    record = dict(VALID)
    for name, value in changes.items():
        if value is ...:
            record.pop(name)
        else:
            record[name] = value
    return record


# (case id, record, the reason check_record gives, or None when the record is valid)
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("minimal", VALID, None),
    (
        "all fields",
        with_fields(
            input_uncached_tokens=248,
            cache_read_tokens=18000,
            cache_write_5m_tokens=1200,
            cache_write_1h_tokens=0,
            output_tokens=503,
            reasoning_tokens=120,
            web_search_requests=1,
            request_id="msg_01",
            service_tier="standard",
            is_batch=False,
            project_id=None,
            workspace_id="wrkspc_1",
            api_key_id="apikey_1",
            tags={"feature": "search", "environment": "prod"},
            latency_ms=812,
            status="ok",
            schema_version=1,
        ),
        None,
    ),
    ("offset time", with_fields(occurred_at="2026-11-01T01:30:00+02:00"), None),
    ("lower-case t and z", with_fields(occurred_at="2026-11-01t01:30:00z"), None),
    ("nanoseconds", with_fields(occurred_at="2026-11-01T01:30:00.123456789Z"), None),
    ("unicode customer", with_fields(customer_id="顧客-42 ü"), None),
    ("customer 256", with_fields(customer_id="c" * 256), None),
    ("event id 128", with_fields(event_id="e" * 128), None),
    ("token count max", with_fields(output_tokens=10**12), None),
    ("latency bigint max", with_fields(latency_ms=2**63 - 1), None),
    ("null optional strings", with_fields(request_id=None, service_tier=None, status=None), None),
    ("null latency", with_fields(latency_ms=None), None),
    ("unknown field", with_fields(trace_id="abc", nested={"a": [1, 2]}), None),
    ("missing event id", with_fields(event_id=...), "missing required field event_id"),
    (
        "missing two",
        with_fields(model=..., customer_id=...),
        "missing required fields model, customer_id",
    ),
    ("empty event id", with_fields(event_id=""), "event_id must not be empty"),
    (
        "event id 129",
        with_fields(event_id="e" * 129),
        "event_id has 129 characters; the maximum is 128",
    ),
    (
        "customer 257",
        with_fields(customer_id="c" * 257),
        "customer_id has 257 characters; the maximum is 256",
    ),
    (
        "customer unattributed",
        with_fields(customer_id="(unattributed)"),
        "customer_id (unattributed) is a reserved identifier",
    ),
    (
        "customer none",
        with_fields(customer_id="(none)"),
        "customer_id (none) is a reserved identifier",
    ),
    (
        "customer number",
        with_fields(customer_id=42),
        "customer_id must be a string, got an integer",
    ),
    (
        "unknown provider",
        with_fields(provider="azure_openai"),
        "provider must be one of anthropic, google, openai",
    ),
    ("empty model", with_fields(model=""), "model must not be empty"),
    (
        "time without offset",
        with_fields(occurred_at="2026-11-01T12:00:00"),
        "occurred_at is not an RFC 3339 date-time with an offset, like 2026-11-01T12:00:00Z",
    ),
    (
        "date only",
        with_fields(occurred_at="2026-11-01"),
        "occurred_at is not an RFC 3339 date-time with an offset, like 2026-11-01T12:00:00Z",
    ),
    (
        "leap second",
        with_fields(occurred_at="2026-12-31T23:59:60Z"),
        "occurred_at is not an RFC 3339 date-time with an offset, like 2026-11-01T12:00:00Z",
    ),
    (
        "epoch number",
        with_fields(occurred_at=1793534400),
        "occurred_at must be a string, got an integer",
    ),
    (
        "token string",
        with_fields(input_uncached_tokens="120"),
        "input_uncached_tokens must be a JSON integer >= 0, got a string",
    ),
    (
        "token fraction",
        with_fields(output_tokens=Decimal("87.5")),
        "output_tokens must be a JSON integer >= 0, got a number with a fraction or exponent",
    ),
    (
        "token negative",
        with_fields(cache_read_tokens=-1),
        "cache_read_tokens must be >= 0, got a negative integer",
    ),
    (
        "token boolean",
        with_fields(web_search_requests=True),
        "web_search_requests must be a JSON integer >= 0, got a boolean",
    ),
    (
        "token null",
        with_fields(reasoning_tokens=None),
        "reasoning_tokens must be a JSON integer >= 0, got null",
    ),
    (
        "token above bigint",
        with_fields(output_tokens=10**12 + 1),
        "output_tokens exceeds the maximum 1000000000000",
    ),
    (
        "batch string",
        with_fields(is_batch="true"),
        "is_batch must be a boolean, got a string",
    ),
    (
        "tags list",
        with_fields(tags=["a"]),
        "tags must be an object of string to string, got an array",
    ),
    (
        "tag number",
        with_fields(tags={"plan": 3}),
        "tag 'plan' must have a string value, got an integer",
    ),
    (
        "request id number",
        with_fields(request_id=7),
        "request_id must be a string or null, got an integer",
    ),
    (
        "latency negative",
        with_fields(latency_ms=-5),
        "latency_ms must be >= 0, got a negative integer",
    ),
    (
        "schema version 2",
        with_fields(schema_version=2),
        "schema_version 2 is not supported; this endpoint reads version 1",
    ),
]


CASE_PARAMETERS = pytest.mark.parametrize(
    ("record", "reason"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)


@CASE_PARAMETERS
def test_rule(record: dict[str, Any], reason: str | None) -> None:
    assert check_record(record).reason == reason


@CASE_PARAMETERS
def test_schema_agrees(record: dict[str, Any], reason: str | None) -> None:
    # The JSON Schema validator reads plain JSON numbers, so Decimal values become floats.
    as_json = json.loads(json.dumps(record, default=float))

    assert VALIDATOR.is_valid(as_json) is (reason is None)


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)

    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_lists_the_content_fields() -> None:
    assert set(SCHEMA["x-llmeter-content-fields"]) == CONTENT_FIELDS


def test_integral_float_rejected_only_by_rules() -> None:
    # JSON Schema's integer type accepts 120.0; the record rules do not.
    record = with_fields(output_tokens=Decimal("120.0"))

    assert check_record(record).reason == (
        "output_tokens must be a JSON integer >= 0, got a number with a fraction or exponent"
    )
    assert VALIDATOR.is_valid(with_fields(output_tokens=120.0)) is True


def test_impossible_day_rejected_by_rules() -> None:
    # The schema's pattern checks field ranges; the calendar check is the rules' own.
    record = with_fields(occurred_at="2026-02-30T00:00:00Z")

    assert check_record(record).reason == (
        "occurred_at is not an RFC 3339 date-time with an offset, like 2026-11-01T12:00:00Z"
    )


def test_content_fields_are_dropped() -> None:
    record = with_fields(prompt="SECRET", messages=[{"role": "user"}], output_tokens=5)

    check = check_record(record)

    assert check.reason is None
    assert check.content_fields == ("messages", "prompt")
    assert check.record == {**VALID, "output_tokens": 5}


def test_content_fields_counted_on_invalid_record() -> None:
    check = check_record(with_fields(customer_id=..., completion="SECRET"))

    assert check.record is None
    assert check.content_fields == ("completion",)
    assert "SECRET" not in (check.reason or "")


def test_unknown_fields_are_not_stored() -> None:
    check = check_record(with_fields(trace_id="abc"))

    assert check.record == VALID


def test_non_object_record() -> None:
    check = check_record(["not", "an", "object"])

    assert check.reason == "a record must be a JSON object, got an array"
    assert check.content_fields == ()


def test_occurred_at_converted_to_utc() -> None:
    parsed = parse_occurred_at("2026-11-01T01:30:00.5+02:00")

    assert parsed is not None
    assert parsed.isoformat() == "2026-10-31T23:30:00.500000+00:00"
