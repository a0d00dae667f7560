"""A lock file that stops a second run on the same warehouse while one is running.

The lock is an exclusive `flock` on `<warehouse>.lock`, so it is released by the operating
system when the holding process ends, even after a crash. The file also records the holder's
process id, host and start time for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from llmeter.audit import utc_now


class WarehouseLockedError(RuntimeError):
    """Raised when another process holds the warehouse lock."""


@contextmanager
def warehouse_lock(lock_path: Path, command: str) -> Iterator[None]:
    """Hold the exclusive lock on `lock_path` for the duration of a `with` block."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.seek(0)
            holder = handle.read().strip() or "an unknown process"
            raise WarehouseLockedError(
                f"Another llmeter process holds {lock_path}: {holder}. "
                "Wait for it to finish, or stop that process."
            ) from error

        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "command": command,
                    "started_at": utc_now().isoformat(timespec="seconds") + "Z",
                }
            )
        )
        handle.flush()
        yield
    finally:
        handle.close()
