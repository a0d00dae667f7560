"""The days each run reads: the first run's backfill, later runs' look-back, explicit windows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmeter.steps import RunContext

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ExtractWindow:
    """Days to read: from `start` (inclusive) to `end` (exclusive), both UTC midnights."""

    start: dt.date
    end: dt.date

    @property
    def is_empty(self) -> bool:
        return self.start >= self.end

    @property
    def days(self) -> list[dt.date]:
        """Every day of the window, oldest first."""
        count = max(0, (self.end - self.start).days)
        return [self.start + DAY * offset for offset in range(count)]

    @property
    def start_at(self) -> dt.datetime:
        return utc_midnight(self.start)

    @property
    def end_at(self) -> dt.datetime:
        return utc_midnight(self.end)


@dataclass(frozen=True)
class WindowOptions:
    """What decides a run's window, the same for every resource of a source.

    Attributes:
        as_of: the run's as-of date; the window ends before it, so the current, incomplete
            day is never read.
        since: first day of an explicit window (`llmeter run --since`), None when not given.
        until: last day of an explicit window, inclusive (`--until`), None when not given.
        backfill_days: days the first run reads, ending before `as_of`.
        lookback_days: days before the last loaded window's end that later runs read again,
            because providers restate recent buckets.
    """

    as_of: dt.date
    since: dt.date | None
    until: dt.date | None
    backfill_days: int
    lookback_days: int


def utc_midnight(day: dt.date) -> dt.datetime:
    """Return the UTC midnight that starts `day`."""
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def plan_window(
    options: WindowOptions, loaded_until: dt.date | None, earliest: dt.date | None = None
) -> ExtractWindow:
    """Return the days one resource reads in this run.

    The window ends before the as-of date, or after `until` when that is earlier. It starts on
    `since` when given; otherwise `lookback_days` before the end of the last loaded window
    (`loaded_until`), or `backfill_days` before the as-of date on the first run. `earliest`
    moves the start later for data the provider serves only from that day on.
    """
    end = options.as_of
    if options.until is not None:
        end = min(end, options.until + DAY)
    if options.since is not None:
        start = options.since
    elif loaded_until is None:
        start = options.as_of - DAY * options.backfill_days
    else:
        start = loaded_until - DAY * options.lookback_days
    if earliest is not None:
        start = max(start, earliest)
    return ExtractWindow(start=start, end=max(start, end))


def next_loaded_until(window: ExtractWindow, loaded_until: dt.date | None) -> dt.date:
    """Return the cursor after a non-empty `window` loaded.

    The cursor becomes the window's end when the window joins or extends the loaded days. An
    explicit window that leaves a gap after the loaded days, or ends before them, keeps the
    cursor, so that the next incremental run still reads the gap.
    """
    if loaded_until is None:
        return window.end
    if window.start <= loaded_until:
        return max(loaded_until, window.end)
    return loaded_until


def window_options(context: RunContext, backfill_days: int, lookback_days: int) -> WindowOptions:
    """Return the window options of a run, checking the configured day counts."""
    if backfill_days < 1:
        raise ValueError(f"backfill_days must be at least 1, got {backfill_days}")
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be 0 or more, got {lookback_days}")
    return WindowOptions(
        as_of=context.settings.as_of_date,
        since=context.since,
        until=context.until,
        backfill_days=backfill_days,
        lookback_days=lookback_days,
    )


def read_cursor(state: Mapping[str, Any]) -> dt.date | None:
    """Return the `loaded_until` date stored in a resource's state, None before the first load."""
    value = state.get("loaded_until")
    return None if value is None else dt.date.fromisoformat(str(value))
