"""Spool files: list the closed ones and cut each into an Arrow table of raw lines.

A line stays raw bytes here. Decoding, JSON parsing and validation happen in DuckDB, so that a
line with invalid UTF-8 or invalid JSON is counted and quarantined instead of stopping the file.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
from dlt.common.configuration.resolve import resolve_configuration
from dlt.common.storages.configuration import FilesystemConfiguration
from dlt.common.storages.fsspec_filesystem import fsspec_from_config, glob_files
from fsspec import AbstractFileSystem

from pipelines.call_logs.settings import FILE_GLOBS

logger = logging.getLogger(__name__)

NEWLINE = 0x0A
CARRIAGE_RETURN = 0x0D
UTF8_BOM = b"\xef\xbb\xbf"
# Bytes scanned per numpy comparison, small enough to stay in the CPU cache.
SCAN_BLOCK_BYTES = 1 << 20

LINES_SCHEMA = pa.schema(
    [
        pa.field("line", pa.large_binary()),
        pa.field("line_number", pa.int64()),
        pa.field("line_bytes", pa.int64()),
        pa.field("is_unterminated", pa.bool_()),
    ]
)


class SpoolFolderNotFoundError(Exception):
    """Raised when the configured spool folder does not exist."""


@dataclass(frozen=True)
class SpoolFile:
    """A closed spool file as listed: `name` is its path relative to the spool folder."""

    name: str
    url: str
    size_bytes: int
    modified_at: dt.datetime


class SpoolFolder:
    """The spool folder or bucket at `bucket_url`, read through dlt's fsspec filesystem.

    Credentials for a remote bucket resolve from the dlt config section `sources.call_logs`
    (for example `SOURCES__CALL_LOGS__CREDENTIALS__AWS_ACCESS_KEY_ID`).
    """

    def __init__(self, bucket_url: str) -> None:
        config = resolve_configuration(
            FilesystemConfiguration(bucket_url=bucket_url), sections=("sources", "call_logs")
        )
        self.bucket_url = config.bucket_url
        self.filesystem: AbstractFileSystem
        self.filesystem, self.root = fsspec_from_config(config)
        self.is_local = config.is_local_filesystem
        if not self.filesystem.isdir(self.root):
            raise SpoolFolderNotFoundError(
                f"the spool folder {without_credentials(bucket_url)} does not exist"
            )

    def list_files(self) -> list[SpoolFile]:
        """List the closed spool files, oldest first (modification time, then name)."""
        files: dict[str, SpoolFile] = {}
        for file_glob in FILE_GLOBS:
            for item in glob_files(self.filesystem, self.bucket_url, file_glob):
                files[item["relative_path"]] = SpoolFile(
                    name=item["relative_path"],
                    url=item["file_url"],
                    size_bytes=int(item.get("size_in_bytes", 0)),
                    modified_at=item["modification_date"].astimezone(dt.UTC),
                )
        return sorted(files.values(), key=lambda file: (file.modified_at, file.name))

    def read_bytes(self, file: SpoolFile) -> pa.Buffer:
        """Read the file's content, decompressed for `.gz`. A local file is memory-mapped."""
        if self.is_local and not file.name.endswith(".gz"):
            path = FilesystemConfiguration.make_local_path(file.url)
            if file.size_bytes == 0:
                return pa.py_buffer(b"")
            return pa.memory_map(path).read_buffer()
        # NOTE: a compressed or remote file is read whole into memory.
        with self.filesystem.open(file.url, "rb") as handle:
            content = handle.read()
        if file.name.endswith(".gz"):
            content = gzip.decompress(content)
        return pa.py_buffer(content)


def without_credentials(url: str) -> str:
    """Return `url` without a user name or password, for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def newline_positions(data: np.ndarray) -> np.ndarray:
    """Return the offset of every newline byte in `data`, scanning block by block."""
    blocks = [
        np.flatnonzero(data[start : start + SCAN_BLOCK_BYTES] == NEWLINE) + start
        for start in range(0, len(data), SCAN_BLOCK_BYTES)
    ]
    if not blocks:
        return np.empty(0, dtype=np.int64)
    return np.concatenate(blocks).astype(np.int64)


def split_lines(content: pa.Buffer) -> pa.Table:
    """Cut `content` into one row per line, without copying the bytes.

    Each `line` value keeps its terminator (`\\n` or `\\r\\n`), because Arrow values are
    contiguous, and JSON parsing ignores it as whitespace. `line_bytes` is the length without the
    terminator. A last line without a newline is flagged `is_unterminated`. A UTF-8 byte order
    mark at the start of the file is skipped.
    """
    data = np.frombuffer(content, dtype=np.uint8)
    start = len(UTF8_BOM) if data[: len(UTF8_BOM)].tobytes() == UTF8_BOM else 0
    ends = newline_positions(data) + 1
    is_unterminated = len(data) > max(start, int(ends[-1]) if len(ends) else 0)
    if is_unterminated:
        ends = np.append(ends, len(data))
    offsets = np.concatenate(([start], ends)).astype(np.int64)
    count = len(ends)

    lengths = np.diff(offsets)
    if count:
        last_bytes = data[ends - 1]
        has_newline = last_bytes == NEWLINE
        lengths = lengths - has_newline
        before_newline = data[np.maximum(ends - 2, 0)]
        has_carriage_return = has_newline & (lengths > 0) & (before_newline == CARRIAGE_RETURN)
        lengths = lengths - has_carriage_return

    unterminated = np.zeros(count, dtype=bool)
    if is_unterminated:
        unterminated[-1] = True

    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), count, [None, pa.py_buffer(offsets), content]
    )
    return pa.Table.from_arrays(
        [
            lines,
            pa.array(np.arange(1, count + 1, dtype=np.int64)),
            pa.array(lengths.astype(np.int64)),
            pa.array(unterminated),
        ],
        schema=LINES_SCHEMA,
    )
