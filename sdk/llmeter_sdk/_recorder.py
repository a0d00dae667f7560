"""`record`: build a call-log record from a response and queue it for the spool writer.

Nothing here raises into the caller. Every outcome is counted (see `stats()`) and problems are
logged at WARNING on the `llmeter_sdk` logger, at most once a minute per kind.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llmeter_sdk._context import Attribution, current_attribution
from llmeter_sdk._diagnostics import Counters, RateLimitedLogger, logger
from llmeter_sdk._spool import (
    DEFAULT_MAX_FILE_AGE_SECONDS,
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_QUEUE_SIZE,
    DEFAULT_SPOOL_DIR,
    SpoolConfig,
    SpoolWriter,
)
from llmeter_sdk._usage import (
    CallUsage,
    InvalidUsageError,
    MissingUsageError,
    UnrecognizedResponseError,
)

SPOOL_DIR_ENVIRONMENT_VARIABLE = "LLMETER_SPOOL_DIR"
SCHEMA_VERSION = 1
MAX_EVENT_ID_LENGTH = 128
MAX_CUSTOMER_ID_LENGTH = 256
RESERVED_CUSTOMER_IDS = frozenset({"(unattributed)", "(none)"})
# Fields that carry prompt or completion text; the SDK never writes them.
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
# Record fields that `record(..., **extra)` may set, each optional and a string or None.
_EXTRA_STRING_FIELDS = frozenset(
    {"request_id", "service_tier", "project_id", "workspace_id", "api_key_id", "status"}
)
_EXIT_FLUSH_SECONDS = 5.0


class InvalidRecordError(ValueError):
    """A customer id, tag or extra field that the record format does not allow."""


def _utc_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


def _check_customer_id(customer_id: object) -> str:
    if not isinstance(customer_id, str):
        raise InvalidRecordError(f"customer_id must be a string, got {type(customer_id).__name__}")
    if not 1 <= len(customer_id) <= MAX_CUSTOMER_ID_LENGTH:
        raise InvalidRecordError(
            f"customer_id must have 1 to {MAX_CUSTOMER_ID_LENGTH} characters, "
            f"got {len(customer_id)}"
        )
    if customer_id in RESERVED_CUSTOMER_IDS:
        raise InvalidRecordError(f"customer_id {customer_id} is a reserved identifier")
    return customer_id


def _check_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidRecordError(
                f"tags must map strings to strings; tag {str(key)[:64]!r} has a "
                f"{type(key).__name__} key and a {type(value).__name__} value"
            )
    return dict(tags)


class Recorder:
    """Builds records and owns the spool writer; the module functions use one per process."""

    def __init__(self, config: SpoolConfig) -> None:
        self.config = config
        self.counters = Counters()
        self.warnings = RateLimitedLogger(logger)
        self._lock = threading.Lock()
        self._writer: SpoolWriter | None = None

    # Public operations.

    def record(
        self,
        read_usage: Callable[[], CallUsage],
        customer_id: str | None,
        tags: Mapping[str, str] | None,
        is_batch: bool | None,
        extra: Mapping[str, Any],
        attribution: Attribution | None = None,
    ) -> None:
        """Read the usage, build the record and queue it; count and log any problem."""
        try:
            self._record(read_usage, customer_id, tags, is_batch, extra, attribution)
        except Exception as error:
            self.counters.add("failed")
            with contextlib.suppress(Exception):
                self.warnings.warning(
                    "failed",
                    "Failed to record an LLM call: %s: %s",
                    type(error).__name__,
                    error,
                )

    def flush(self, timeout: float | None) -> bool:
        """Close the current spool file once every queued record is in it."""
        writer = self._writer
        if writer is None or not writer.alive:
            return True
        return writer.flush(timeout)

    def close(self, timeout: float | None) -> bool:
        """Flush and stop the writer thread; a later `record` starts a new one."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is None or not writer.alive:
            return True
        return writer.flush(timeout, stop=True)

    def reconfigure(self, config: SpoolConfig, timeout: float | None) -> bool:
        """Flush and stop the current writer and spool with `config` from the next record on."""
        with self._lock:
            writer, self._writer = self._writer, None
            self.config = config
        if writer is None or not writer.alive:
            return True
        return writer.flush(timeout, stop=True)

    def stats(self) -> dict[str, int]:
        counts = self.counters.snapshot()
        writer = self._writer
        counts["queued"] = writer.queued if writer is not None else 0
        return counts

    def reset_after_fork(self) -> None:
        """Give a forked child its own counters, lock and writer, leaving the parent's file."""
        self._lock = threading.Lock()
        self.counters = Counters()
        self.warnings = RateLimitedLogger(logger)
        if self._writer is not None:
            self._writer.abandon_after_fork()
        self._writer = None

    # Internals.

    def _record(
        self,
        read_usage: Callable[[], CallUsage],
        customer_id: str | None,
        tags: Mapping[str, str] | None,
        is_batch: bool | None,
        extra: Mapping[str, Any],
        attribution: Attribution | None,
    ) -> None:
        completed_at = dt.datetime.now(dt.timezone.utc)
        try:
            call = read_usage()
        except MissingUsageError as error:
            self.counters.add("missing_usage")
            self.warnings.warning(
                "missing_usage",
                "Not recorded: a %s response without usage (%s); its tokens are not counted",
                error.provider,
                error,
            )
            return
        except (UnrecognizedResponseError, InvalidUsageError) as error:
            self.counters.add("invalid")
            self.warnings.warning("invalid_usage", "Not recorded: %s", error)
            return

        scope = attribution or current_attribution()
        chosen_customer = customer_id if customer_id is not None else scope.customer_id
        if chosen_customer is None:
            self.counters.add("missing_customer")
            self.warnings.warning(
                "missing_customer",
                "Not recorded: an LLM call without a customer id; pass customer_id= or wrap "
                "the call in llmeter_sdk.customer(...)",
            )
            return
        try:
            record = self._build(call, completed_at, chosen_customer, scope, tags, is_batch, extra)
        except InvalidRecordError as error:
            self.counters.add("invalid")
            self.warnings.warning("invalid_record", "Not recorded: %s", error)
            return

        outcome = self._get_writer().submit(record)
        if outcome == "stopped":
            outcome = self._get_writer().submit(record)
        if outcome == "queued":
            self.counters.add("recorded")
        else:
            self.counters.add("dropped")
            self.warnings.warning(
                "queue_full",
                "Dropped a call-log record: the spool queue holds %d records (the writer is "
                "behind or failing)",
                self.config.max_queue_size,
            )

    def _build(
        self,
        call: CallUsage,
        completed_at: dt.datetime,
        customer_id: str,
        scope: Attribution,
        tags: Mapping[str, str] | None,
        is_batch: bool | None,
        extra: Mapping[str, Any],
    ) -> dict[str, Any]:
        fields = self._extra_fields(extra)
        model = fields.pop("model", call.model)
        if not model:
            raise InvalidRecordError(
                f"the {call.provider} response names no model; pass model= to record"
            )
        record: dict[str, Any] = {
            "event_id": fields.pop("event_id", None) or str(uuid.uuid4()),
            "occurred_at": fields.pop("occurred_at", None) or _utc_timestamp(completed_at),
            "provider": call.provider,
            "model": model,
            "customer_id": _check_customer_id(customer_id),
            **call.token_counts(),
            "is_batch": call.is_batch if is_batch is None else bool(is_batch),
            "tags": _check_tags({**scope.tags, **(tags or {})}),
            "schema_version": SCHEMA_VERSION,
        }
        if call.request_id is not None:
            record["request_id"] = call.request_id
        if call.service_tier is not None:
            record["service_tier"] = call.service_tier
        record.update(fields)
        return record

    def _extra_fields(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        """Check the `**extra` fields of `record`; drop content and unknown fields."""
        fields: dict[str, Any] = {}
        for name, value in extra.items():
            if name in CONTENT_FIELDS or (
                name not in _EXTRA_STRING_FIELDS
                and name not in {"model", "latency_ms", "event_id", "occurred_at"}
            ):
                self.counters.add("fields_dropped")
                kind = "a content field" if name in CONTENT_FIELDS else "not a record field"
                self.warnings.warning(
                    "field_dropped",
                    "Dropped the field %s passed to record: it is %s",
                    name[:64],
                    kind,
                )
            elif name in _EXTRA_STRING_FIELDS or name == "model":
                if value is not None and not isinstance(value, str):
                    raise InvalidRecordError(f"{name} must be a string or None")
                if value is not None:
                    fields[name] = value
            elif name == "latency_ms":
                fields[name] = self._latency(value)
            elif name == "event_id":
                if not isinstance(value, str) or not 1 <= len(value) <= MAX_EVENT_ID_LENGTH:
                    raise InvalidRecordError(
                        f"event_id must be a string of 1 to {MAX_EVENT_ID_LENGTH} characters"
                    )
                fields[name] = value
            else:
                if not isinstance(value, dt.datetime) or value.utcoffset() is None:
                    raise InvalidRecordError("occurred_at must be a timezone-aware datetime")
                fields[name] = _utc_timestamp(value)
        return fields

    @staticmethod
    def _latency(value: object) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidRecordError("latency_ms must be a number of milliseconds >= 0")
        return round(value)

    def _get_writer(self) -> SpoolWriter:
        writer = self._writer
        if writer is not None and writer.alive:
            return writer
        with self._lock:
            if self._writer is None or not self._writer.alive:
                self._writer = SpoolWriter(self.config, self.counters, self.warnings)

            return self._writer


def config_from_environment(
    spool_dir: str | os.PathLike[str] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_file_age_seconds: float = DEFAULT_MAX_FILE_AGE_SECONDS,
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
) -> SpoolConfig:
    """Build the spool settings: `spool_dir`, else LLMETER_SPOOL_DIR, else `data/call_logs`.

    A relative folder is taken from the working directory at the time of this call.
    """
    folder = spool_dir or os.environ.get(SPOOL_DIR_ENVIRONMENT_VARIABLE) or DEFAULT_SPOOL_DIR
    if max_file_bytes <= 0 or max_file_age_seconds <= 0 or max_queue_size <= 0:
        raise ValueError("max_file_bytes, max_file_age_seconds and max_queue_size must be > 0")
    return SpoolConfig(
        spool_dir=Path(folder).expanduser().absolute(),
        max_file_bytes=max_file_bytes,
        max_file_age_seconds=max_file_age_seconds,
        max_queue_size=max_queue_size,
    )


_default: Recorder | None = None
_default_lock = threading.Lock()


def default_recorder() -> Recorder:
    """Return the process's recorder, created on first use from the environment."""
    global _default
    recorder = _default
    if recorder is None:
        with _default_lock:
            if _default is None:
                _default = Recorder(config_from_environment())
            recorder = _default
    return recorder


def reconfigure_default_recorder(config: SpoolConfig) -> bool:
    """Flush the process's recorder and spool with `config` from now on; counters are kept."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Recorder(config)
            return True
        recorder = _default
    return recorder.reconfigure(config, timeout=_EXIT_FLUSH_SECONDS)


def _close_at_exit() -> None:
    recorder = _default
    if recorder is not None:
        recorder.close(timeout=_EXIT_FLUSH_SECONDS)


def _reset_in_forked_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    if _default is not None:
        _default.reset_after_fork()


atexit.register(_close_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_forked_child)
