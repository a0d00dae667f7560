"""The `audit.run_audit` table: one row per run, per step and per source, file or check.

BI reads it to know how fresh and how trustworthy the marts are. A row with `step = 'run'` and
an empty `subject` describes the whole run, and any other row with an empty `subject` describes
a step. The other rows carry row counts per source or file, and check results.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmeter import warehouse

AUDIT_SCHEMA = "audit"
AUDIT_TABLE = f"{AUDIT_SCHEMA}.run_audit"

CREATE_AUDIT_TABLE = f"""
create schema if not exists {AUDIT_SCHEMA};
create table if not exists {AUDIT_TABLE} (
    run_id varchar not null,
    command varchar not null,
    step varchar not null,
    subject varchar not null,
    started_at timestamp not null,
    ended_at timestamp,
    duration_seconds decimal(18, 3),
    status varchar not null,
    rows_read bigint,
    rows_loaded bigint,
    rows_duplicate bigint,
    rows_rejected bigint,
    message varchar,
    details json
);
"""


@dataclass
class SubjectResult:
    """Counts and outcome for one source, file or check inside a step.

    For a loaded source or file, rows_read = rows_loaded + rows_duplicate + rows_rejected.
    """

    subject: str
    status: str = "succeeded"
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_duplicate: int | None = None
    rows_rejected: int | None = None
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_balanced(self) -> bool:
        """Whether rows read equal rows loaded + duplicates + rejected (True where not counted)."""
        counts = (self.rows_read, self.rows_loaded, self.rows_duplicate, self.rows_rejected)
        if any(count is None for count in counts):
            return True
        return self.rows_read == (self.rows_loaded or 0) + (self.rows_duplicate or 0) + (
            self.rows_rejected or 0
        )


def utc_now() -> dt.datetime:
    """Return the current time as a naive UTC timestamp, the way run_audit stores times."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_table(path: Path, memory_limit: str) -> None:
    """Create `audit.run_audit` if the warehouse does not have it yet."""
    with warehouse.connection(path, memory_limit=memory_limit) as connection:
        connection.execute(CREATE_AUDIT_TABLE)


def write_rows(
    path: Path,
    memory_limit: str,
    *,
    run_id: str,
    command: str,
    step: str,
    started_at: dt.datetime,
    ended_at: dt.datetime | None,
    status: str,
    message: str = "",
    subjects: Iterable[SubjectResult] = (),
) -> None:
    """Replace the rows of one step of one run with its own row and one row per subject."""
    duration = None if ended_at is None else round((ended_at - started_at).total_seconds(), 3)
    rows: list[tuple[Any, ...]] = [
        (
            run_id,
            command,
            step,
            "",
            started_at,
            ended_at,
            duration,
            status,
            None,
            None,
            None,
            None,
            message,
            None,
        )
    ]
    for result in subjects:
        rows.append(
            (
                run_id,
                command,
                step,
                result.subject,
                started_at,
                ended_at,
                duration,
                result.status,
                result.rows_read,
                result.rows_loaded,
                result.rows_duplicate,
                result.rows_rejected,
                result.message,
                json.dumps(dict(result.details), default=str, sort_keys=True),
            )
        )

    with warehouse.connection(path, memory_limit=memory_limit) as connection:
        connection.execute(CREATE_AUDIT_TABLE)
        connection.execute(
            f"delete from {AUDIT_TABLE} where run_id = ? and step = ?", [run_id, step]
        )
        connection.executemany(
            f"insert into {AUDIT_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
