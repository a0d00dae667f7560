"""Counters and rate-limited warnings, so that a failing SDK stays quiet and observable."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

logger = logging.getLogger("llmeter_sdk")

COUNTER_NAMES = (
    "recorded",
    "written",
    "dropped",
    "failed",
    "invalid",
    "missing_usage",
    "missing_customer",
    "fields_dropped",
    "files_closed",
)


class Counters:
    """Thread-safe event counters; `snapshot()` returns them as a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(COUNTER_NAMES, 0)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


class RateLimitedLogger:
    """Logs a warning per kind at most once per interval and counts the ones it held back."""

    def __init__(self, target: logging.Logger, interval_seconds: float = 60.0) -> None:
        self._target = target
        self._interval = interval_seconds
        self._lock = threading.Lock()
        # kind -> (time of the last message, messages held back since)
        self._state: dict[str, tuple[float, int]] = {}

    def warning(self, kind: str, message: str, *args: Any) -> None:
        """Log `message % args` unless a message of this kind was logged within the interval."""
        now = time.monotonic()
        with self._lock:
            last, held_back = self._state.get(kind, (float("-inf"), 0))
            if now - last < self._interval:
                self._state[kind] = (last, held_back + 1)
                return
            self._state[kind] = (now, 0)
        if held_back:
            message += " (%d more like this in the last %.0f s were not logged)"
            args = (*args, held_back, self._interval)
        self._target.warning(message, *args)
