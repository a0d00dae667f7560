"""llmeter-sdk: record the usage of each LLM call with the customer it served.

`record(response, customer_id=...)` reads the usage of an OpenAI, Anthropic or Gemini response,
normalizes it into LLMeter's token classes and queues one call-log record. A daemon thread
appends the records to NDJSON spool files (default `data/call_logs`, or LLMETER_SPOOL_DIR) that
LLMeter loads, or that `Sender` posts to LLMeter's ingest endpoint. Prompts and completions are
never read or written, and `record` never raises: problems are counted in `stats()` and logged
at WARNING on the `llmeter_sdk` logger.

The package imports only the standard library.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

from llmeter_sdk._context import CustomerScope, customer
from llmeter_sdk._recorder import (
    config_from_environment,
    default_recorder,
    reconfigure_default_recorder,
)
from llmeter_sdk._sender import Sender, SendReport, send_spool
from llmeter_sdk._spool import (
    DEFAULT_MAX_FILE_AGE_SECONDS,
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_QUEUE_SIZE,
)
from llmeter_sdk._stream import StreamUsage, arecord_stream, record_stream
from llmeter_sdk._usage import CallUsage, extract_usage

__version__ = "0.1.0"

__all__ = [
    "CallUsage",
    "CustomerScope",
    "SendReport",
    "Sender",
    "StreamUsage",
    "__version__",
    "arecord_stream",
    "close",
    "configure",
    "customer",
    "extract_usage",
    "flush",
    "record",
    "record_stream",
    "send_spool",
    "stats",
]


def record(
    response: Any,
    customer_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    *,
    provider: str | None = None,
    is_batch: bool | None = None,
    **extra: Any,
) -> None:
    """Record one LLM call from its response; returns in microseconds and never raises.

    Args:
        response: the response object of the OpenAI Chat Completions or Responses API, the
            Anthropic Messages API or the Gemini API (the provider package's object, anything
            with `model_dump()` or `to_dict()`, a dict or JSON text), an OpenAI or Anthropic
            batch result line, or a Responses API `response.completed` event.
        customer_id: the paying customer; by default the one of the enclosing `customer(...)`.
        tags: tags such as feature or environment, added to those of the enclosing scope.
        provider: `openai`, `anthropic` or `google`; by default taken from the response shape.
            Pass it for another provider's OpenAI-compatible endpoint.
        is_batch: whether the call ran through a batch API; by default true for batch result
            lines and Anthropic's `batch` service tier.
        **extra: other record fields: `latency_ms`, `status`, `project_id`, `workspace_id`,
            `api_key_id`, `request_id`, `service_tier`, `model`, `event_id` (for idempotent
            retries) and `occurred_at` (a timezone-aware datetime). Other names are dropped
            and counted as `fields_dropped`.
    """
    with contextlib.suppress(Exception):
        default_recorder().record(
            lambda: extract_usage(response, provider), customer_id, tags, is_batch, extra
        )


def configure(
    spool_dir: str | os.PathLike[str] | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_file_age_seconds: float = DEFAULT_MAX_FILE_AGE_SECONDS,
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
) -> None:
    """Set where and how records are spooled; the records queued so far are flushed first.

    Args:
        spool_dir: the spool folder; by default LLMETER_SPOOL_DIR or `data/call_logs`, taken
            from the working directory when relative.
        max_file_bytes: close a file once it has this many bytes (default 8 MiB).
        max_file_age_seconds: close a file this many seconds after it was opened (default 60).
        max_queue_size: records that may wait for the writer thread; more are dropped and
            counted as `dropped` (default 10,000).

    Raises:
        ValueError: a limit is not positive.
    """
    config = config_from_environment(
        spool_dir, max_file_bytes, max_file_age_seconds, max_queue_size
    )
    reconfigure_default_recorder(config)


def flush(timeout: float | None = 10.0) -> bool:
    """Write every queued record and close the current spool file; True when done in time."""
    try:
        return default_recorder().flush(timeout)
    except Exception:
        return False


def close(timeout: float | None = 10.0) -> bool:
    """Flush and stop the writer thread; a later `record` starts it again.

    It also runs at interpreter exit, with a 5-second limit.
    """
    try:
        return default_recorder().close(timeout)
    except Exception:
        return False


def stats() -> dict[str, int]:
    """Return the counters of this process since it started (a forked child starts at 0).

    Keys:
        recorded: records queued for the writer.
        written: records in closed spool files.
        dropped: records not queued because the queue was full.
        failed: records lost to an error, such as an unwritable spool folder.
        invalid: unrecognized responses, invalid usage, customer ids, tags or fields.
        missing_usage: responses or streams without usage.
        missing_customer: calls without a customer id.
        fields_dropped: content or unknown fields passed to `record`.
        files_closed: spool files closed.
        queued: records waiting for the writer now.
    """
    return default_recorder().stats()
