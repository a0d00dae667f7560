"""Durable spool files of accepted call-log records.

A spool file is NDJSON named `calls-<UTC yyyymmddThhmmssZ>-<pid>-<random>.ndjson`: the name sorts
by the time the file was opened and is unique across processes and hosts. It is written as
`<name>.ndjson.tmp`, flushed to disk and renamed, so a reader that lists `*.ndjson` sees only
complete files. The llmeter-sdk package writes the same names.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SPOOL_SUFFIX = ".ndjson"
TEMPORARY_SUFFIX = ".ndjson.tmp"


def new_spool_name(now: dt.datetime | None = None) -> str:
    """Return a new closed-file name, `calls-20261101T120000Z-4242-9f8e7d6c5b4a.ndjson`."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"calls-{moment:%Y%m%dT%H%M%SZ}-{os.getpid()}-{secrets.token_hex(6)}{SPOOL_SUFFIX}"


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_spool_file(spool_dir: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write records to a new closed spool file and return its path once it is on disk.

    The file is written under its temporary name, fsynced, renamed, and the folder is fsynced,
    so the records survive a crash of the process or the machine once this returns.

    Raises:
        OSError: the folder is not writable or the disk is full; no closed file is left behind.
    """
    spool_dir.mkdir(parents=True, exist_ok=True)
    name = new_spool_name()
    final_path = spool_dir / name
    temporary_path = spool_dir / (name + ".tmp")
    payload = "".join(
        json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records
    ).encode("utf-8")

    descriptor = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(payload)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
        os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        temporary_path.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    os.replace(temporary_path, final_path)
    _fsync_directory(spool_dir)
    return final_path
