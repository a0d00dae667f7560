"""The dlt resources of bucketed reports and list endpoints, and the counts of one extraction.

Both providers serve daily usage and cost buckets that they restate in place, so every load
replaces whole days. Each bucketed resource first yields one marker row per day of its window,
flagged in the `hard_delete` column `_llmeter_bucket_marker`. dlt's `delete-insert` merge on
`bucket_start_at` then deletes the stored rows of every day in the window, a day that became
empty included, and inserts only the rows the provider returned now. The markers themselves
are never inserted.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema, TDeleteInsertStrategyDict, TTableSchemaColumns
from dlt.common.typing import TDataItem
from dlt.extract import DltResource

from pipelines.admin_api.windows import (
    DAY,
    ExtractWindow,
    WindowOptions,
    next_loaded_until,
    plan_window,
    read_cursor,
    utc_midnight,
)

logger = logging.getLogger(__name__)

# Columns every bucketed table carries besides the provider's own fields.
BUCKET_START_COLUMN = "bucket_start_at"
BUCKET_MARKER_COLUMN = "_llmeter_bucket_marker"
BUCKET_COLUMNS: TTableSchemaColumns = {
    BUCKET_START_COLUMN: {"data_type": "timestamp", "nullable": False},
    "bucket_end_at": {"data_type": "timestamp"},
    "extracted_at": {"data_type": "timestamp"},
    BUCKET_MARKER_COLUMN: {"data_type": "bool", "hard_delete": True},
}
LOOKUP_COLUMNS: TTableSchemaColumns = {"extracted_at": {"data_type": "timestamp"}}
# Replace every stored row whose bucket start is among the loaded rows, markers included.
BUCKET_WRITE_DISPOSITION: TDeleteInsertStrategyDict = {
    "disposition": "merge",
    "strategy": "delete-insert",
}


def money_column() -> TColumnSchema:
    """Return the hint of an exact amount column, DECIMAL(38, 18) like the dbt `type_usd()`."""
    return {"data_type": "decimal", "precision": 38, "scale": 18}


def text_column() -> TColumnSchema:
    """Return the hint of a text column."""
    return {"data_type": "text"}


def count_column() -> TColumnSchema:
    """Return the hint of an integer count column."""
    return {"data_type": "bigint"}


def bool_column() -> TColumnSchema:
    """Return the hint of a boolean column."""
    return {"data_type": "bool"}


def timestamp_column() -> TColumnSchema:
    """Return the hint of a UTC timestamp column."""
    return {"data_type": "timestamp"}


@dataclass
class TableReport:
    """Counts of one raw table in one run, filled in while its resource runs."""

    table: str
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    pages: int = 0
    buckets: int = 0
    rows: int = 0

    def details(self) -> dict[str, Any]:
        """Return the `details` of the table's audit row."""
        details: dict[str, Any] = {"pages": self.pages}
        if self.first_day is not None:
            details.update(
                first_day=self.first_day.isoformat(),
                last_day=self.last_day.isoformat() if self.last_day else None,
                buckets=self.buckets,
            )
        return details


@dataclass
class ExtractReport:
    """The table reports of one provider extraction, by table name."""

    tables: dict[str, TableReport] = field(default_factory=dict)

    def table(self, name: str) -> TableReport:
        """Return the report of table `name`, created empty on first use."""
        if name not in self.tables:
            self.tables[name] = TableReport(table=name)
        return self.tables[name]


def bucket_marker(day: dt.date, extracted_at: dt.datetime) -> dict[str, Any]:
    """Return the marker row that makes the merge delete the stored rows of `day`."""
    return {
        BUCKET_START_COLUMN: utc_midnight(day),
        "bucket_end_at": utc_midnight(day + DAY),
        "extracted_at": extracted_at,
        BUCKET_MARKER_COLUMN: True,
    }


PageReader = Callable[[ExtractWindow], Iterator[tuple[int, list[dict[str, Any]]]]]


def bucketed_rows(
    table: str,
    read_pages: PageReader,
    options: WindowOptions,
    report: ExtractReport,
    extracted_at: dt.datetime,
    earliest: dt.date | None = None,
) -> Iterator[TDataItem]:
    """Yield the rows of one bucketed table for this run's window, then advance its cursor.

    `read_pages(window)` yields `(page number, rows)` pairs; each row carries its bucket
    columns. The cursor lives in the resource's dlt state, which dlt stores with the load, so a
    run that fails before loading leaves it where it was.
    """
    state = dlt.current.resource_state(table)
    loaded_until = read_cursor(state)
    window = plan_window(options, loaded_until, earliest)
    table_report = report.table(table)

    yield dlt.mark.materialize_table_schema()
    if window.is_empty:
        logger.info("%s: nothing to read (window %s to %s)", table, window.start, window.end)
        return

    table_report.first_day = window.start
    table_report.last_day = window.end - DAY
    table_report.buckets = len(window.days)
    logger.info(
        "%s: reading %s to %s (%d days)",
        table,
        window.start,
        window.end - DAY,
        len(window.days),
    )
    yield [bucket_marker(day, extracted_at) for day in window.days]
    for page_number, rows in read_pages(window):
        table_report.pages = page_number
        table_report.rows += len(rows)
        if rows:
            yield rows
    state["loaded_until"] = next_loaded_until(window, loaded_until).isoformat()


def bucketed_resource(
    table: str,
    read_pages: PageReader,
    columns: TTableSchemaColumns,
    options: WindowOptions,
    report: ExtractReport,
    extracted_at: dt.datetime,
    earliest: dt.date | None = None,
) -> DltResource:
    """Return the dlt resource of a bucketed table, merged on `bucket_start_at`.

    `columns` are the hints of the provider's fields, so that a field that is null in every
    row so far still gets its column.
    """
    return dlt.resource(
        bucketed_rows(table, read_pages, options, report, extracted_at, earliest),
        name=table,
        write_disposition=BUCKET_WRITE_DISPOSITION,
        merge_key=BUCKET_START_COLUMN,
        columns=copy.deepcopy({**BUCKET_COLUMNS, **columns}),
    )


def lookup_resource(
    table: str,
    read_pages: Callable[[], Iterator[list[dict[str, Any]]]],
    columns: TTableSchemaColumns,
    report: ExtractReport,
    extracted_at: dt.datetime,
) -> DltResource:
    """Return the dlt resource of a list endpoint, whose every load replaces the table."""

    def rows() -> Iterator[TDataItem]:
        table_report = report.table(table)
        yield dlt.mark.materialize_table_schema()
        for page in read_pages():
            table_report.pages += 1
            table_report.rows += len(page)
            if page:
                yield [{**item, "extracted_at": extracted_at} for item in page]

    return dlt.resource(
        rows(),
        name=table,
        write_disposition="replace",
        columns=copy.deepcopy({**LOOKUP_COLUMNS, **columns}),
    )
