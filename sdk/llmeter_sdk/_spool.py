"""The background writer that appends records to NDJSON spool files.

A spool file is named `calls-<UTC yyyymmddThhmmssZ>-<pid>-<random>.ndjson`: the name sorts by the
time the file was opened and is unique across processes. It is written as `<name>.ndjson.tmp`
and renamed after an fsync once it is closed: by size, by age, at `flush()`, `close()` and
interpreter exit. A reader that lists `*.ndjson` therefore reads only complete files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmeter_sdk._diagnostics import Counters, RateLimitedLogger

SPOOL_SUFFIX = ".ndjson"
TEMPORARY_SUFFIX = ".ndjson.tmp"
DEFAULT_SPOOL_DIR = "data/call_logs"
DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_FILE_AGE_SECONDS = 60.0
DEFAULT_MAX_QUEUE_SIZE = 10_000
# Lines are handed to the operating system once this many bytes wait, or when the queue is empty.
_WRITE_BUFFER_BYTES = 64 * 1024


def new_spool_name(now: dt.datetime | None = None) -> str:
    """Return a new closed-file name, `calls-20261101T120000Z-4242-9f8e7d6c5b4a.ndjson`."""
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    return f"calls-{moment:%Y%m%dT%H%M%SZ}-{os.getpid()}-{secrets.token_hex(6)}{SPOOL_SUFFIX}"


@dataclass(frozen=True)
class SpoolConfig:
    """Where and how the writer spools records.

    Attributes:
        spool_dir: folder of the spool files; created when the first record is written.
        max_file_bytes: a file is closed once it has at least this many bytes.
        max_file_age_seconds: a file is closed this many seconds after it was opened.
        max_queue_size: records waiting for the writer; `record` drops records beyond it.
    """

    spool_dir: Path
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_file_age_seconds: float = DEFAULT_MAX_FILE_AGE_SECONDS
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE


@dataclass
class _Barrier:
    """A queue item that makes the writer close its file and signal `done`."""

    done: threading.Event
    stop: bool = False


class SpoolWriter:
    """A queue of records and the daemon thread that writes them to spool files."""

    def __init__(
        self, config: SpoolConfig, counters: Counters, warnings: RateLimitedLogger
    ) -> None:
        self.config = config
        self._counters = counters
        self._warnings = warnings
        self._queue: queue.Queue[dict[str, Any] | _Barrier] = queue.Queue(config.max_queue_size)
        self._thread = threading.Thread(target=self._run, name="llmeter-sdk-spool", daemon=True)
        self._submit_lock = threading.Lock()
        self._stopping = False
        self._descriptor: int | None = None
        self._temporary_path: Path | None = None
        self._file_records = 0
        self._file_bytes = 0
        self._file_deadline = 0.0
        self._buffer: list[bytes] = []
        self._buffer_bytes = 0
        self._buffer_records = 0
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, record: dict[str, Any]) -> str:
        """Queue a record without blocking.

        Returns:
            "queued"; "full" when the queue is full; "stopped" when the writer is stopping, so
            the caller must use a new writer.
        """
        with self._submit_lock:
            if self._stopping:
                return "stopped"
            try:
                self._queue.put_nowait(record)
            except queue.Full:
                return "full"
        return "queued"

    def flush(self, timeout: float | None, stop: bool = False) -> bool:
        """Close the current file once the queued records are in it; True when done in time.

        With `stop`, the writer thread then ends. Records submitted before the stop are written
        first; later ones are refused with "stopped".
        """
        if stop:
            with self._submit_lock:
                self._stopping = True
        barrier = _Barrier(threading.Event(), stop)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._queue.put(barrier, timeout=timeout)
        except queue.Full:
            return False
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return barrier.done.wait(remaining)

    def abandon_after_fork(self) -> None:
        """Forget the parent's file in a forked child, without touching the parent's data."""
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                os.close(self._descriptor)
        self._descriptor = None
        self._buffer = []

    # The rest runs on the writer thread only.

    def _run(self) -> None:
        while True:
            timeout = None
            if self._descriptor is not None:
                timeout = max(0.0, self._file_deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._close_file()
                continue
            if isinstance(item, _Barrier):
                self._close_file()
                item.done.set()
                if item.stop:
                    return
                continue
            self._append(item)
            if self._buffer_bytes >= _WRITE_BUFFER_BYTES or self._queue.empty():
                self._write_buffer()
            if self._descriptor is not None and (
                self._file_bytes >= self.config.max_file_bytes
                or time.monotonic() >= self._file_deadline
            ):
                self._close_file()

    def _append(self, record: dict[str, Any]) -> None:
        try:
            line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        except (TypeError, ValueError) as error:
            self._counters.add("failed")
            self._warnings.warning(
                "serialize", "Failed to serialize a call-log record, not recorded: %s", error
            )
            return
        if self._descriptor is None and not self._open_file():
            return
        self._buffer.append(line)
        self._buffer_bytes += len(line)
        self._buffer_records += 1
        self._file_bytes += len(line)

    def _open_file(self) -> bool:
        # NOTE: a process killed before it closes its file leaves the .ndjson.tmp file behind,
        # possibly with a cut last line. Nothing renames or deletes such files.
        spool_dir = self.config.spool_dir
        name = new_spool_name()
        temporary_path = spool_dir / (name + ".tmp")
        try:
            spool_dir.mkdir(parents=True, exist_ok=True)
            self._descriptor = os.open(
                temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644
            )
        except OSError as error:
            self._counters.add("failed")
            self._warnings.warning(
                "open",
                "Failed to open a spool file in %s, call-log record lost: %s",
                spool_dir,
                error,
            )
            return False
        self._temporary_path = temporary_path
        self._file_records = 0
        self._file_bytes = 0
        self._file_deadline = time.monotonic() + self.config.max_file_age_seconds
        return True

    def _write_buffer(self) -> None:
        if not self._buffer or self._descriptor is None:
            return
        data = memoryview(b"".join(self._buffer))
        records = self._buffer_records
        self._buffer, self._buffer_bytes, self._buffer_records = [], 0, 0
        try:
            while data:
                data = data[os.write(self._descriptor, data) :]
        except OSError as error:
            self._file_records += records
            self._discard_file(error)
            return
        self._file_records += records

    def _close_file(self) -> None:
        """Write what is buffered, fsync, and rename the file to its closed name."""
        if self._descriptor is None or self._temporary_path is None:
            return
        self._write_buffer()
        if self._descriptor is None:
            return
        temporary_path = self._temporary_path
        final_path = temporary_path.with_name(temporary_path.name.removesuffix(".tmp"))
        try:
            os.fsync(self._descriptor)
            os.close(self._descriptor)
            self._descriptor = None
            os.rename(temporary_path, final_path)
        except OSError as error:
            self._discard_file(error)
            return
        _fsync_directory(final_path.parent)
        self._counters.add("written", self._file_records)
        self._counters.add("files_closed")
        self._temporary_path = None
        self._file_records = 0

    def _discard_file(self, error: OSError) -> None:
        """Count the records of a file that failed as lost and give the file up."""
        lost = self._file_records + self._buffer_records
        self._counters.add("failed", lost)
        self._warnings.warning(
            "write",
            "Failed to write spool file %s, %d call-log records lost: %s",
            self._temporary_path,
            lost,
            error,
        )
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                os.close(self._descriptor)
        if self._temporary_path is not None:
            with contextlib.suppress(OSError):
                self._temporary_path.unlink(missing_ok=True)
        self._descriptor = None
        self._temporary_path = None
        self._file_records = 0
        self._buffer, self._buffer_bytes, self._buffer_records = [], 0, 0


def _fsync_directory(folder: Path) -> None:
    """Make a rename in `folder` durable; a failure only weakens durability, so it is ignored."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
