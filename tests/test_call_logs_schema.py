"""The loader's record rules agree with schemas/call_log_record.v1.json, checked by jsonschema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pytest

from llmeter.settings import Settings
from pipelines.call_logs.settings import (
    CONTENT_FIELDS,
    MAX_CUSTOMER_ID_LENGTH,
    MAX_EVENT_ID_LENGTH,
    PROVIDERS,
    RECORD_FIELDS,
    RESERVED_CUSTOMER_IDS,
)
from pipelines.call_logs.spool import split_lines, without_credentials
from pipelines.call_logs.validate import OCCURRED_AT_PATTERN
from tests.test_call_logs_loader import EARLY, call_record, query, run_extract, write_spool_file

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "call_log_record.v1.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
MAX_BIGINT = 2**63 - 1
MAX_TOKEN_COUNT = 10**12


def without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != name}


# Records on both sides of each rule. Integers written as 120.0 and days that do not exist are
# left out: the JSON Schema cannot express those two rules, and the loader tests cover them.
RECORDS: list[dict[str, Any]] = [
    call_record("valid-minimal"),
    call_record(
        "valid-full",
        cache_read_tokens=1,
        cache_write_5m_tokens=2,
        cache_write_1h_tokens=3,
        reasoning_tokens=4,
        web_search_requests=5,
        request_id="req_1",
        service_tier="flex",
        is_batch=True,
        project_id="proj_1",
        workspace_id="wrkspc_1",
        api_key_id="key_1",
        tags={"feature": "search", "team": "core"},
        latency_ms=0,
        status="error",
    ),
    call_record("null-request-id", request_id=None, service_tier=None, status=None),
    call_record("null-latency", latency_ms=None, project_id=None, api_key_id=None),
    call_record("null-count", output_tokens=None),
    call_record("null-batch", is_batch=None),
    call_record("null-tags", tags=None),
    call_record("number-tag", tags={"feature": 1}),
    call_record("array-tags", tags=["feature"]),
    call_record("version-2", schema_version=2),
    call_record("version-string", schema_version="1"),
    call_record(""),
    call_record("e" * MAX_EVENT_ID_LENGTH),
    call_record("empty-model", model=""),
    call_record("capital-provider", provider="OpenAI"),
    call_record("google", provider="google", model="gemini-2.5-pro"),
    call_record("not-grouped-customer", customer_id="(not grouped)"),
    call_record("unicode-customer", customer_id="Zoë & Søn 株式会社"),
    call_record("c" * 3, customer_id="c" * MAX_CUSTOMER_ID_LENGTH),
    call_record("empty-customer", customer_id=""),
    call_record("offset", occurred_at="2026-10-01T12:00:00.123456+05:30"),
    call_record("lowercase", occurred_at="2026-10-01t12:00:00z"),
    call_record("hour-24", occurred_at="2026-10-01T24:00:00Z"),
    call_record("leap-second", occurred_at="2026-12-31T23:59:60Z"),
    call_record("space", occurred_at="2026-10-01 12:00:00Z"),
    call_record("number-time", occurred_at=1790000000),
    call_record("string-batch", is_batch="true"),
    call_record("number-request-id", request_id=5),
    call_record("count-too-large", output_tokens=MAX_TOKEN_COUNT + 1),
    call_record("count-max", output_tokens=MAX_TOKEN_COUNT),
    call_record("latency-max", latency_ms=MAX_BIGINT),
    call_record("negative-latency", latency_ms=-1),
    call_record("unknown-field", region="eu", extra={"nested": [1, 2]}),
    call_record("content-field", prompt="hello", choices=[{"text": "hi"}]),
    without(call_record("missing-provider"), "provider"),
    without(call_record("missing-time"), "occurred_at"),
    call_record(None),  # type: ignore[arg-type]
    call_record(12345),  # type: ignore[arg-type]
]


def test_constants_match_schema() -> None:
    properties = SCHEMA["properties"]

    assert list(CONTENT_FIELDS) == SCHEMA["x-llmeter-content-fields"]
    assert set(PROVIDERS) == set(properties["provider"]["enum"])
    assert list(RESERVED_CUSTOMER_IDS) == properties["customer_id"]["not"]["enum"]
    assert [field.name for field in RECORD_FIELDS if field.required] == SCHEMA["required"]
    assert [field.name for field in RECORD_FIELDS] == list(properties)
    assert properties["event_id"]["maxLength"] == MAX_EVENT_ID_LENGTH
    assert properties["customer_id"]["maxLength"] == MAX_CUSTOMER_ID_LENGTH
    assert properties["occurred_at"]["pattern"] == OCCURRED_AT_PATTERN


def test_nullable_fields_match_schema() -> None:
    nullable = {
        name
        for name, rules in SCHEMA["properties"].items()
        if isinstance(rules.get("type"), list) and "null" in rules["type"]
    }

    assert {field.name for field in RECORD_FIELDS if field.nullable} == nullable


def test_loader_agrees_with_json_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "spool"
    content = b"".join(json.dumps(record).encode() + b"\n" for record in RECORDS)
    write_spool_file(folder / "records.ndjson", content, EARLY)
    monkeypatch.setenv("SOURCES__CALL_LOGS__BUCKET_URL", str(folder))
    settings = Settings(
        project_root=tmp_path,
        warehouse_path=tmp_path / "warehouse.duckdb",
        published_path=tmp_path / "published.duckdb",
        memory_limit="1GB",
        as_of_date=EARLY.date(),
    )
    validator = jsonschema.Draft202012Validator(SCHEMA)

    run_extract(settings)

    loaded = {
        line for (line,) in query(settings, "select source_line from raw_call_logs.llm_calls")
    }
    for number, record in enumerate(RECORDS, start=1):
        assert (number in loaded) == validator.is_valid(record), record


def test_split_lines_terminators() -> None:
    content = pa.py_buffer(b'\xef\xbb\xbf{"a":1}\r\n\n{"b":2}\nlast')

    lines = split_lines(content).to_pydict()

    assert lines["line"] == [b'{"a":1}\r\n', b"\n", b'{"b":2}\n', b"last"]
    assert lines["line_number"] == [1, 2, 3, 4]
    assert lines["line_bytes"] == [7, 0, 7, 4]
    assert lines["is_unterminated"] == [False, False, False, True]


def test_split_lines_empty_file() -> None:
    assert split_lines(pa.py_buffer(b"")).num_rows == 0


def test_folder_message_hides_credentials() -> None:
    assert without_credentials("sftp://spooler:s3cret@files.example:22/spool") == (
        "sftp://files.example:22/spool"
    )
    assert without_credentials("/var/spool/call_logs") == "/var/spool/call_logs"
