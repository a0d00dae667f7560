"""The call log record format (schema version 1) and the tables the loader writes.

The field rules are those of docs/input-formats.md and schemas/call_log_record.v1.json; the raw
table columns are the contract with the staging model `stg_call_logs__llm_calls`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
from dlt.common.schema.typing import TTableSchemaColumns

PIPELINE_NAME = "call_logs"
DATASET_NAME = "raw_call_logs"
CALLS_TABLE = "llm_calls"
QUARANTINE_TABLE = "quarantine"
LOADED_FILES_TABLE = "loaded_files"

BUCKET_URL_SETTING = "sources.call_logs.bucket_url"
BUCKET_URL_ENVIRONMENT_VARIABLE = "SOURCES__CALL_LOGS__BUCKET_URL"
DEFAULT_BUCKET_URL = "data/call_logs"

# Closed spool files. A writer names a file *.ndjson.tmp until it closes it, so these globs
# never match a file that is still being written.
FILE_GLOBS = ("**/*.ndjson", "**/*.ndjson.gz")

SCHEMA_VERSION = 1
MAX_EVENT_ID_LENGTH = 128
MAX_CUSTOMER_ID_LENGTH = 256
MAX_BIGINT = 9_223_372_036_854_775_807
# No LLM call has a trillion tokens, so a larger count is a client bug. Accepting it would let
# one record overflow the DECIMAL arithmetic of pricing and allocation.
MAX_TOKEN_COUNT = 1_000_000_000_000

PROVIDERS = ("anthropic", "google", "openai")
RESERVED_CUSTOMER_IDS = ("(unattributed)", "(none)")

# Top-level keys that may carry a prompt or a completion. They are never stored, not even in the
# quarantine's copy of a rejected line.
CONTENT_FIELDS = (
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
)

FieldKind = Literal["string", "timestamp", "count", "boolean", "tags", "version"]


@dataclass(frozen=True)
class RecordField:
    """One field of a call log record and its JSON rules.

    An absent optional field takes its default. JSON null is valid only where `nullable` is set,
    as in the JSON Schema (`"type": ["string", "null"]`).
    """

    name: str
    kind: FieldKind
    required: bool = False
    nullable: bool = False
    max_length: int | None = None


TOKEN_FIELDS = (
    "input_uncached_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "web_search_requests",
)

RECORD_FIELDS: tuple[RecordField, ...] = (
    RecordField("event_id", "string", required=True, max_length=MAX_EVENT_ID_LENGTH),
    RecordField("occurred_at", "timestamp", required=True),
    RecordField("provider", "string", required=True),
    RecordField("model", "string", required=True),
    RecordField("customer_id", "string", required=True, max_length=MAX_CUSTOMER_ID_LENGTH),
    *(RecordField(name, "count") for name in TOKEN_FIELDS),
    RecordField("request_id", "string", nullable=True),
    RecordField("service_tier", "string", nullable=True),
    RecordField("is_batch", "boolean"),
    RecordField("project_id", "string", nullable=True),
    RecordField("workspace_id", "string", nullable=True),
    RecordField("api_key_id", "string", nullable=True),
    RecordField("tags", "tags"),
    RecordField("latency_ms", "count", nullable=True),
    RecordField("status", "string", nullable=True),
    RecordField("schema_version", "version"),
)

# A later record with an event_id already seen is a plain duplicate when these fields match the
# first version, and a conflicting duplicate otherwise: they decide the cost and who pays it.
COMPARED_FIELDS = (
    "provider",
    "model",
    "customer_id",
    "occurred_at",
    *TOKEN_FIELDS,
    "service_tier",
    "is_batch",
)

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

CALLS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("occurred_at", UTC_TIMESTAMP, nullable=False),
        pa.field("provider", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        *(pa.field(name, pa.int64(), nullable=False) for name in TOKEN_FIELDS),
        pa.field("request_id", pa.string()),
        pa.field("service_tier", pa.string()),
        pa.field("is_batch", pa.bool_(), nullable=False),
        pa.field("project_id", pa.string()),
        pa.field("workspace_id", pa.string()),
        pa.field("api_key_id", pa.string()),
        pa.field("tags", pa.string(), nullable=False),
        pa.field("latency_ms", pa.int64()),
        pa.field("status", pa.string()),
        pa.field("schema_version", pa.int64(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("loaded_at", UTC_TIMESTAMP, nullable=False),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("line_number", pa.int64(), nullable=False),
        pa.field("event_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_line", pa.string()),
        pa.field("raw_line_bytes", pa.int64(), nullable=False),
        pa.field("raw_line_sha256", pa.string(), nullable=False),
        pa.field("content_fields", pa.string()),
        pa.field("quarantined_at", UTC_TIMESTAMP, nullable=False),
    ]
)

LOADED_FILES_SCHEMA = pa.schema(
    [
        pa.field("file_name", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("modified_at", UTC_TIMESTAMP, nullable=False),
        pa.field("lines_read", pa.int64(), nullable=False),
        pa.field("rows_loaded", pa.int64(), nullable=False),
        pa.field("rows_duplicate", pa.int64(), nullable=False),
        pa.field("rows_rejected", pa.int64(), nullable=False),
        pa.field("blank_lines", pa.int64(), nullable=False),
        pa.field("content_fields_dropped", pa.int64(), nullable=False),
        pa.field("loaded_at", UTC_TIMESTAMP, nullable=False),
    ]
)


def dlt_columns(schema: pa.Schema) -> TTableSchemaColumns:
    """dlt column hints that declare every column of `schema`, so dlt never infers a type."""
    types = {
        pa.string(): {"data_type": "text"},
        pa.int64(): {"data_type": "bigint"},
        pa.bool_(): {"data_type": "bool"},
        UTC_TIMESTAMP: {"data_type": "timestamp", "timezone": True, "precision": 6},
    }
    columns: TTableSchemaColumns = {}
    for field in schema:
        columns[field.name] = {"name": field.name, "nullable": field.nullable, **types[field.type]}  # type: ignore[typeddict-item]
    return columns
