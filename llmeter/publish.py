"""The publish step: a read-only copy of the public marts for BI tools.

DuckDB lets one process write a file, or many processes read it, but not both at once. So BI
tools never open the warehouse: they read a separate published file that the nightly job
replaces as a whole after a successful build. A BI tool that keeps the published file open
cannot make the job fail, and it never sees a half-built mart.

Each publish writes a new DuckDB file under a temporary name in the published file's folder
and renames it over the old one with `os.replace`, which is atomic on POSIX file systems.
Readers that opened the old file keep reading the old inode until they reconnect; new readers
get the new file. The same tables go to Parquet in a new folder `parquet/v<run_id>/`, and the
pointer file `parquet/CURRENT`, replaced the same way, names the current folder. The newest
two Parquet versions are kept, so that a reader of the previous version has time to finish.

The published file contains every table and view of schema `marts` (as tables), plus
`audit.run_audit`, `audit.publish_version` (one row: the run that published the file) and
`audit.published_tables` (the row count of each published table). The copy of `run_audit`
is taken during the run, so the publishing run appears there with status `running`.

A publish writes what changed since the previous one, not the whole history:

- The new DuckDB file starts as a byte copy of the previous published file, when this code
  wrote that file (`audit.publish_version.format_version`), it contains only tables a publish
  writes, and at most 20% of the rows stored in it are deleted ones. A table with a
  `usage_date` DATE column is then compared with the warehouse day by day, on the row count
  and the sum of DuckDB's `hash()` of every row, and only the days that differ are deleted and
  inserted again. Any other table is copied again only when its row count or hash sum differs.
  A new table, a table whose columns changed, and a dated table with more than half of its
  rows to rewrite are copied in full. A table that left the warehouse is dropped. Without a
  usable previous file every table is copied in full into a new file.
- In Parquet, each table is a folder. A table with a `usage_date` DATE column has one file per
  month, and one per day in its latest month, because nightly runs change recent days most.
  Any other table has one file. A file whose row count and hash sum equal those recorded in the
  `_manifest.json` of the current version is hard-linked from that version, not written again.

Both ways give the same tables, rows and column types as copying every table; only the
physical order of the rows can differ. Each table's audit row records which way it was
published.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from llmeter.audit import SubjectResult, utc_now
from llmeter.settings import Settings
from llmeter.steps import RunContext, StepFailedError, StepResult

logger = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
AUDIT_SCHEMA = "audit"
RUN_AUDIT_TABLE = "run_audit"
VERSION_TABLE = "publish_version"
MANIFEST_TABLE = "published_tables"

# DuckDB 1.2 and later can write files in an older storage format. 'v1.1.0' selects the
# format that DuckDB 1.0 introduced (duckdb_databases() tags it 'v1.0.0+'), which every
# DuckDB from 1.0 to 2.0 opens. The default of DuckDB 2.0 ('v2.0.0+') cannot be opened by 1.x.
STORAGE_VERSION = "v1.1.0"

# Layout of the published file and the Parquet folder that this code writes, stored in
# audit.publish_version and _manifest.json. A publish starts from the previous version only
# when both carry this number; change it whenever the layout changes.
FORMAT_VERSION = 1

# Tables with a column of this name and type DATE are compared per day, and split into Parquet
# files by month and day.
DATE_COLUMN = "usage_date"

# A dated table whose changed days hold more than this share of its rows is copied in full,
# because one CREATE TABLE AS is faster than deleting most rows and leaves no deleted rows.
MAX_SHARE_REPLACED_BY_DAY = 0.5

# DuckDB (2.0.1 measured) keeps deleted rows in their row groups after a checkpoint: each
# publish that replaced one day of 110,000 rows grew a 1.3 GB file by about 14 MB. Once
# deleted rows exceed this share of the rows stored in the previous file, the next publish
# writes a new file with every table copied in full.
MAX_SHARE_DELETED = 0.2

PARQUET_FOLDER = "parquet"
CURRENT_POINTER = "CURRENT"
PARQUET_VERSIONS_KEPT = 2
MANIFEST_FILE = "_manifest.json"
# File name of a table without a usage_date column, or of a dated table without rows.
WHOLE_TABLE_FILE = "data.parquet"
# File name of the rows of a dated table whose usage_date is null.
UNDATED_FILE = "undated.parquet"

# Catalog name of the new published file while the step writes it.
TARGET = "llmeter_publish_target"

COPIED_IN_FULL = "copied_in_full"
DAYS_REPLACED = "days_replaced"
UNCHANGED = "unchanged"

Column = tuple[str, str]


def quote_identifier(name: str) -> str:
    """Quote a DuckDB identifier, doubling any double quote inside it."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a DuckDB string literal, doubling any single quote inside it."""
    return "'" + value.replace("'", "''") + "'"


def date_literal(day: dt.date) -> str:
    """Write `day` as a DuckDB DATE literal."""
    return f"date '{day.isoformat()}'"


@dataclass(frozen=True)
class Relation:
    """A table or view to publish, with its column names and types in order."""

    schema: str
    name: str
    columns: tuple[Column, ...]

    @property
    def qualified_name(self) -> str:
        """`schema.name`, as the audit rows and the Parquet folder names write it."""
        return f"{self.schema}.{self.name}"

    @property
    def is_dated(self) -> bool:
        """Whether the relation has a `usage_date` DATE column, so it is handled per day."""
        return (DATE_COLUMN, "DATE") in self.columns

    def in_catalog(self, catalog: str) -> str:
        """Return the quoted `catalog.schema.name` of the relation."""
        return ".".join(quote_identifier(part) for part in (catalog, self.schema, self.name))


@dataclass(frozen=True)
class Signature:
    """Row count and the sum of DuckDB's `hash()` of each row: the same for the same rows.

    The sum does not depend on row order. Two different sets of rows get the same signature
    only by a hash collision. The values depend on the DuckDB version.
    """

    rows: int
    hash_sum: int

    def __add__(self, other: Signature) -> Signature:
        return Signature(self.rows + other.rows, self.hash_sum + other.hash_sum)


NO_ROWS = Signature(0, 0)

Day = dt.date | None


@dataclass(frozen=True)
class TableSignature:
    """The signature of a whole table and, for a dated table, of each `usage_date` (or null)."""

    total: Signature
    days: Mapping[Day, Signature] | None


def _count(number: int, noun: str) -> str:
    """Write `number noun`, adding an s to the noun unless the number is 1."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@dataclass
class PublishedTable:
    """The outcome of publishing one table, for the audit rows and the log."""

    schema: str
    name: str
    row_count: int
    method: str
    signature: TableSignature
    reason: str = ""
    days: int = 0
    days_replaced: int = 0
    days_added: int = 0
    days_removed: int = 0
    rows_deleted: int = 0
    rows_written: int = 0
    parquet_files_written: int = 0
    parquet_files_linked: int = 0

    @property
    def qualified_name(self) -> str:
        """`schema.name`, as the audit rows and the Parquet folder names write it."""
        return f"{self.schema}.{self.name}"

    @property
    def summary(self) -> str:
        """What the publish did to the table, such as `1 of 91 days replaced, 1 added`."""
        if self.method == COPIED_IN_FULL:
            text = f"copied in full ({self.reason})"
        elif self.method == DAYS_REPLACED:
            text = f"{self.days_replaced} of {self.days} days replaced"
            if self.days_added:
                text += f", {self.days_added} added"
            if self.days_removed:
                text += f", {self.days_removed} removed"
        else:
            text = "unchanged"
        return (
            f"{text}; Parquet: {_count(self.parquet_files_written, 'file')} written, "
            f"{self.parquet_files_linked} linked"
        )

    @property
    def details(self) -> dict[str, Any]:
        """The counts behind `summary`, for `run_audit.details`."""
        return {
            "method": self.method,
            "reason": self.reason,
            "days": self.days,
            "days_replaced": self.days_replaced,
            "days_added": self.days_added,
            "days_removed": self.days_removed,
            "rows_deleted": self.rows_deleted,
            "rows_written": self.rows_written,
            "parquet_files_written": self.parquet_files_written,
            "parquet_files_linked": self.parquet_files_linked,
        }


@dataclass
class Publication:
    """The tables of a new version and how its DuckDB file was started."""

    tables: list[PublishedTable]
    incremental_from: str | None
    full_reason: str = ""


class _NotReusableError(Exception):
    """Raised when the previous published file cannot start the new one, with the reason."""


# --- Reading relations and signatures -------------------------------------------------------


def _relation_columns(
    connection: duckdb.DuckDBPyConnection, catalog: str
) -> dict[tuple[str, str], tuple[Column, ...]]:
    """Return the columns of every table and view of `catalog`, keyed by (schema, name)."""
    rows = connection.execute(
        """
        select schema_name, table_name, column_name, data_type from duckdb_columns()
        where database_name = ?
        order by schema_name, table_name, column_index
        """,
        [catalog],
    ).fetchall()
    columns: dict[tuple[str, str], list[Column]] = {}
    for schema, name, column, data_type in rows:
        columns.setdefault((str(schema), str(name)), []).append((str(column), str(data_type)))
    return {key: tuple(value) for key, value in columns.items()}


def _source_relations(connection: duckdb.DuckDBPyConnection, source: str) -> list[Relation]:
    """List every table and view to publish from the attached warehouse, with its columns."""
    marts = connection.execute(
        """
        select schema_name, table_name from duckdb_tables()
        where database_name = ? and schema_name = ?
        union
        select schema_name, view_name from duckdb_views()
        where database_name = ? and schema_name = ? and not internal
        order by 1, 2
        """,
        [source, PUBLISHED_SCHEMA, source, PUBLISHED_SCHEMA],
    ).fetchall()
    audit = connection.execute(
        """
        select schema_name, table_name from duckdb_tables()
        where database_name = ? and schema_name = ? and table_name = ?
        """,
        [source, AUDIT_SCHEMA, RUN_AUDIT_TABLE],
    ).fetchall()
    columns = _relation_columns(connection, source)
    return [
        Relation(str(schema), str(name), columns[(str(schema), str(name))])
        for schema, name in [*marts, *audit]
    ]


def _table_signature(
    connection: duckdb.DuckDBPyConnection, catalog: str, relation: Relation
) -> TableSignature:
    """Compute the signature of `relation` in `catalog`, per day when it is dated."""
    table = relation.in_catalog(catalog)
    if not relation.is_dated:
        row = connection.execute(
            f"select count(*), coalesce(sum(hash(*columns(*))), 0) from {table}"
        ).fetchone()
        assert row is not None
        return TableSignature(Signature(int(row[0]), int(row[1])), None)

    rows = connection.execute(
        f"select {quote_identifier(DATE_COLUMN)}, count(*), sum(hash(*columns(*))) "
        f"from {table} group by 1"
    ).fetchall()
    days: dict[Day, Signature] = {
        day: Signature(int(count), int(total)) for day, count, total in rows
    }
    total = sum(days.values(), NO_ROWS)
    return TableSignature(total, days)


def _row_count(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    row = connection.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0


# --- Starting the new DuckDB file -----------------------------------------------------------


def _connect(settings: Settings) -> tuple[duckdb.DuckDBPyConnection, str]:
    """Open an in-memory connection with the warehouse attached read-only; return its catalog."""
    connection = duckdb.connect(":memory:", config={"memory_limit": settings.memory_limit})
    try:
        # Set after connecting, because the setting needs the ICU extension, which DuckDB
        # loads only once the connection exists.
        connection.execute("set TimeZone = 'UTC'")
        # The warehouse keeps its own catalog name (the file name without extension), because
        # views that dbt created name their tables with it.
        source = settings.warehouse_path.stem
        connection.execute(
            f"attach {quote_literal(str(settings.warehouse_path))} "
            f"as {quote_identifier(source)} (read_only)"
        )
    except BaseException:
        connection.close()
        raise
    return connection, source


def _attach_target(connection: duckdb.DuckDBPyConnection, database_file: Path) -> None:
    connection.execute(
        f"attach {quote_literal(str(database_file))} as {TARGET} "
        f"(storage_version {quote_literal(STORAGE_VERSION)})"
    )


def _discard_file(database_file: Path) -> None:
    for path in (database_file, database_file.with_name(database_file.name + ".wal")):
        path.unlink(missing_ok=True)


def _file_state(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns


def _objects_not_published(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """List what the attached copy contains beyond the tables and schemas a publish writes.

    Someone who opened the published file read-write may have added views, indexes, macros,
    constraints or comments; a copy of every table would not have them.
    """
    version_tables = [VERSION_TABLE, MANIFEST_TABLE]
    rows = connection.execute(
        """
        select 'schema ' || schema_name from duckdb_schemas()
        where database_name = $target and not internal
            and schema_name not in ($marts, $audit)
        union all
        select 'table ' || schema_name || '.' || table_name from duckdb_tables()
        where database_name = $target
            and (schema_name not in ($marts, $audit) or comment is not null)
        union all
        select 'column ' || schema_name || '.' || table_name || '.' || column_name
        from duckdb_columns()
        where database_name = $target and comment is not null
        union all
        select 'view ' || schema_name || '.' || view_name from duckdb_views()
        where database_name = $target and not internal
        union all
        select 'index ' || schema_name || '.' || index_name from duckdb_indexes()
        where database_name = $target
        union all
        select 'sequence ' || schema_name || '.' || sequence_name from duckdb_sequences()
        where database_name = $target
        union all
        select 'macro ' || schema_name || '.' || function_name from duckdb_functions()
        where database_name = $target and not internal
        union all
        select 'type ' || schema_name || '.' || type_name from duckdb_types()
        where database_name = $target and not internal
        union all
        select 'constraint on ' || schema_name || '.' || table_name from duckdb_constraints()
        where database_name = $target
            and not (schema_name = $audit and list_contains($version_tables, table_name))
        order by 1
        """,
        {
            "target": TARGET,
            "marts": PUBLISHED_SCHEMA,
            "audit": AUDIT_SCHEMA,
            "version_tables": version_tables,
        },
    ).fetchall()
    return [str(row[0]) for row in rows]


def _attach_previous_copy(
    connection: duckdb.DuckDBPyConnection, previous_file: Path, database_file: Path
) -> str:
    """Copy the previous published file to `database_file`, attach it and return its run id.

    Raises:
        _NotReusableError: the previous file is missing, changed while it was copied, cannot
            be opened, was written by other code, contains objects a publish does not write
            or stores too many deleted rows.
    """
    if not previous_file.is_file():
        raise _NotReusableError("no earlier published file")
    try:
        before = _file_state(previous_file)
        shutil.copyfile(previous_file, database_file)
        after = _file_state(previous_file)
    except OSError as error:
        raise _NotReusableError(f"copying the earlier published file failed: {error}") from error
    if before != after:
        raise _NotReusableError("the earlier published file changed while it was copied")

    try:
        _attach_target(connection, database_file)
        versions = connection.execute(
            f"select format_version, storage_version, run_id "
            f"from {TARGET}.{quote_identifier(AUDIT_SCHEMA)}.{VERSION_TABLE}"
        ).fetchall()
        unexpected = _objects_not_published(connection)
    except duckdb.Error as error:
        raise _NotReusableError(f"the earlier published file cannot be reused: {error}") from error
    if len(versions) != 1:
        raise _NotReusableError(f"{VERSION_TABLE} of the earlier file has {len(versions)} rows")
    format_version, storage_version, run_id = versions[0]
    if format_version != FORMAT_VERSION or storage_version != STORAGE_VERSION:
        raise _NotReusableError(
            f"the earlier file has format {format_version} and storage {storage_version}, "
            f"not {FORMAT_VERSION} and {STORAGE_VERSION}"
        )
    if unexpected:
        raise _NotReusableError(
            "the earlier file contains objects a publish does not write: " + ", ".join(unexpected)
        )
    _check_deleted_rows(connection)
    return str(run_id)


def _check_deleted_rows(connection: duckdb.DuckDBPyConnection) -> None:
    """Raise _NotReusableError when too many of the rows stored in the attached copy are deleted.

    `duckdb_tables().estimated_size` counts the rows stored in a table's row groups, deleted
    ones included. Free blocks are not counted: the blocks of a table that a publish dropped
    or copied in full are reused by the next writes, so they do not pile up the way deleted
    rows do.
    """
    tables = connection.execute(
        "select schema_name, table_name, estimated_size from duckdb_tables() "
        "where database_name = ?",
        [TARGET],
    ).fetchall()
    stored = sum(int(size) for _, _, size in tables)
    live = sum(
        _row_count(connection, ".".join(quote_identifier(part) for part in (TARGET, schema, name)))
        for schema, name, _ in tables
    )
    if stored and (stored - live) > MAX_SHARE_DELETED * stored:
        raise _NotReusableError(
            f"{stored - live} of the {stored} rows stored in the earlier file are deleted "
            f"rows, more than {MAX_SHARE_DELETED:.0%}; a new file leaves them out"
        )


# --- Bringing each table up to date ---------------------------------------------------------


def _copy_in_full(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    relation: Relation,
    reason: str,
    signature: TableSignature | None = None,
) -> PublishedTable:
    """Copy `relation` from `source` to the new file with CREATE TABLE AS, keeping types.

    The signature of the copied rows is computed from the new file unless the caller already
    computed it from the warehouse, so that a view is not evaluated twice.
    """
    target = relation.in_catalog(TARGET)
    connection.execute(
        f"create or replace table {target} as select * from {relation.in_catalog(source)}"
    )
    if signature is None:
        signature = _table_signature(connection, TARGET, relation)
        row_count = signature.total.rows
    else:
        row_count = _row_count(connection, target)
    return PublishedTable(
        relation.schema,
        relation.name,
        row_count,
        COPIED_IN_FULL,
        signature,
        reason=reason,
        days=len(signature.days or {}),
        rows_written=row_count,
    )


def _day_condition(days: Collection[Day]) -> str:
    """Return a SQL condition that selects the rows of `days`; None selects a null usage_date."""
    column = quote_identifier(DATE_COLUMN)
    dates = sorted(day for day in days if day is not None)
    conditions = []
    if dates:
        conditions.append(f"{column} in ({', '.join(date_literal(day) for day in dates)})")
    if None in days:
        conditions.append(f"{column} is null")
    return " or ".join(conditions) or "false"


def _update_dated_table(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    relation: Relation,
    signature: TableSignature,
    published: TableSignature,
) -> PublishedTable:
    """Delete and insert again the days whose rows differ between warehouse and copy."""
    warehouse_days = signature.days or {}
    published_days = published.days or {}
    changed = {
        day
        for day in warehouse_days.keys() & published_days.keys()
        if warehouse_days[day] != published_days[day]
    }
    added = warehouse_days.keys() - published_days.keys()
    removed = published_days.keys() - warehouse_days.keys()
    if not changed and not added and not removed:
        return PublishedTable(
            relation.schema,
            relation.name,
            published.total.rows,
            UNCHANGED,
            signature,
            days=len(warehouse_days),
        )

    rows_to_write = sum(warehouse_days[day].rows for day in changed | added)
    if rows_to_write > MAX_SHARE_REPLACED_BY_DAY * signature.total.rows:
        return _copy_in_full(connection, source, relation, "most rows changed", signature)

    target = relation.in_catalog(TARGET)
    deleted = connection.execute(
        f"delete from {target} where {_day_condition(changed | removed)}"
    ).fetchone()
    written = connection.execute(
        f"insert into {target} select * from {relation.in_catalog(source)} "
        f"where {_day_condition(changed | added)}"
    ).fetchone()
    return PublishedTable(
        relation.schema,
        relation.name,
        _row_count(connection, target),
        DAYS_REPLACED,
        signature,
        days=len(warehouse_days),
        days_replaced=len(changed),
        days_added=len(added),
        days_removed=len(removed),
        rows_deleted=int(deleted[0]) if deleted else 0,
        rows_written=int(written[0]) if written else 0,
    )


def _update_table(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    relation: Relation,
    published_columns: tuple[Column, ...] | None,
) -> PublishedTable:
    """Bring one table of the copied file up to date with the warehouse."""
    if published_columns is None:
        return _copy_in_full(connection, source, relation, "new table")
    if published_columns != relation.columns:
        return _copy_in_full(connection, source, relation, "columns changed")

    signature = _table_signature(connection, source, relation)
    published = _table_signature(connection, TARGET, relation)
    if relation.is_dated:
        table = _update_dated_table(connection, source, relation, signature, published)
    elif published.total == signature.total:
        table = PublishedTable(
            relation.schema, relation.name, published.total.rows, UNCHANGED, signature
        )
    else:
        table = _copy_in_full(connection, source, relation, "rows changed", signature)
    if table.row_count != signature.total.rows:
        raise StepFailedError(
            f"Publishing {relation.qualified_name} left {table.row_count} rows in the "
            f"published file, but the warehouse has {signature.total.rows}."
        )
    return table


def _write_tables(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    relations: Sequence[Relation],
    full_reason: str | None,
) -> list[PublishedTable]:
    """Write every relation to the attached new file; copy all in full when `full_reason`.

    Without `full_reason` the new file is a copy of the previous version: tables that left
    the warehouse are dropped and the others brought up to date.
    """
    for schema in sorted({relation.schema for relation in relations} | {AUDIT_SCHEMA}):
        connection.execute(f"create schema if not exists {TARGET}.{quote_identifier(schema)}")

    published_columns = {} if full_reason else _relation_columns(connection, TARGET)
    to_publish = {(relation.schema, relation.name) for relation in relations}
    version_tables = {(AUDIT_SCHEMA, VERSION_TABLE), (AUDIT_SCHEMA, MANIFEST_TABLE)}
    for schema, name in sorted(published_columns.keys() - to_publish - version_tables):
        logger.info(
            "Dropping %s.%s from the published file: the warehouse has no such table", schema, name
        )
        connection.execute(
            f"drop table {TARGET}.{quote_identifier(schema)}.{quote_identifier(name)}"
        )

    tables = []
    for relation in relations:
        if full_reason:
            table = _copy_in_full(connection, source, relation, full_reason)
        else:
            columns = published_columns.get((relation.schema, relation.name))
            table = _update_table(connection, source, relation, columns)
        tables.append(table)
    return tables


def _write_version_tables(
    connection: duckdb.DuckDBPyConnection, run_id: str, tables: Sequence[PublishedTable]
) -> None:
    audit = quote_identifier(AUDIT_SCHEMA)
    connection.execute(
        f"""
        create or replace table {TARGET}.{audit}.{VERSION_TABLE} (
            run_id varchar not null,
            published_at timestamp not null,
            storage_version varchar not null,
            format_version integer not null,
            table_count integer not null
        )
        """
    )
    connection.execute(
        f"insert into {TARGET}.{audit}.{VERSION_TABLE} values (?, ?, ?, ?, ?)",
        [run_id, utc_now(), STORAGE_VERSION, FORMAT_VERSION, len(tables)],
    )
    connection.execute(
        f"""
        create or replace table {TARGET}.{audit}.{MANIFEST_TABLE} (
            run_id varchar not null,
            table_schema varchar not null,
            table_name varchar not null,
            row_count bigint not null
        )
        """
    )
    connection.executemany(
        f"insert into {TARGET}.{audit}.{MANIFEST_TABLE} values (?, ?, ?, ?)",
        [(run_id, table.schema, table.name, table.row_count) for table in tables],
    )


# --- Parquet --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParquetFile:
    """One Parquet file of a table: its name, and the condition and signature of its rows."""

    name: str
    condition: str
    signature: Signature


@dataclass(frozen=True)
class PreviousParquetTable:
    """A table of the current Parquet version, as its manifest describes it."""

    folder: Path
    columns: tuple[Column, ...]
    files: Mapping[str, Signature]


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=31)).replace(day=1)


def _parquet_files(relation: Relation, signature: TableSignature) -> list[ParquetFile]:
    """Split a table into its Parquet files, each named for the rows it holds.

    A dated table gets one file per month of usage_date (`2026-01.parquet`), except its latest
    month, which gets one file per day (`2026-03-05.parquet`). The nightly run adds and
    restates recent days, so a publish rewrites only those days' files and not the month's.
    Once a later month has rows, the days of the month before become one month file. Rows
    without a usage_date go to `undated.parquet`; any other table is one `data.parquet`.
    """
    if not signature.days:
        return [ParquetFile(WHOLE_TABLE_FILE, "true", signature.total)]

    column = quote_identifier(DATE_COLUMN)
    dates = sorted(day for day in signature.days if day is not None)
    latest_month = _month_start(dates[-1]) if dates else None
    months: dict[dt.date, Signature] = {}
    day_files = []
    for day in dates:
        month = _month_start(day)
        if month == latest_month:
            day_files.append(
                ParquetFile(
                    f"{day:%Y-%m-%d}.parquet",
                    f"{column} = {date_literal(day)}",
                    signature.days[day],
                )
            )
        else:
            months[month] = months.get(month, NO_ROWS) + signature.days[day]
    files = [
        ParquetFile(
            f"{month:%Y-%m}.parquet",
            f"{column} >= {date_literal(month)} and {column} < {date_literal(_next_month(month))}",
            months[month],
        )
        for month in sorted(months)
    ]
    files.extend(day_files)
    if None in signature.days:
        files.append(ParquetFile(UNDATED_FILE, f"{column} is null", signature.days[None]))
    return files


def _parquet_query(relation: Relation, condition: str) -> str:
    """Return the query of one Parquet file: the rows of the table that match `condition`.

    DuckDB 2.0.1 writes a Parquet column as REQUIRED when the statistics of the rows written
    show no nulls. So files of one table written from different rows would disagree, and a
    reader that takes the schema of the first file would get it wrong for the others. The
    second branch of the union may return a row of nulls as far as the optimizer can tell
    (`random() < 0` is never true), so every column is OPTIONAL in every file, as it is in the
    published table, which has no NOT NULL constraint.
    """
    nulls = ", ".join(
        f"cast(null as {data_type}) as {quote_identifier(name)}"
        for name, data_type in relation.columns
    )
    return (
        f"select * from {relation.in_catalog(TARGET)} where {condition} "
        f"union all select {nulls} where random() < 0"
    )


def _read_previous_parquet(parquet_root: Path) -> dict[str, PreviousParquetTable]:
    """Read the manifest of the current Parquet version, keyed by `schema.table`.

    Returns an empty mapping when there is no current version, or when another format version
    or another DuckDB version wrote it, because its hash sums cannot be compared then.
    """
    pointer = parquet_root / CURRENT_POINTER
    try:
        version = pointer.read_text(encoding="utf-8").strip()
        manifest = json.loads((parquet_root / version / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        logger.warning("Writing every Parquet file again: reading %s failed: %s", pointer, error)
        return {}
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        logger.info("Writing every Parquet file again: version %s has another format", version)
        return {}
    if manifest.get("duckdb_version") != duckdb.__version__:
        logger.info("Writing every Parquet file again: another DuckDB version wrote %s", version)
        return {}

    tables = {}
    try:
        for entry in manifest["tables"]:
            files = {
                Path(file["path"]).name: Signature(int(file["rows"]), int(file["row_hash_sum"]))
                for file in entry["files"]
            }
            tables[f"{entry['schema']}.{entry['table']}"] = PreviousParquetTable(
                parquet_root / version / f"{entry['schema']}.{entry['table']}",
                tuple((str(name), str(data_type)) for name, data_type in entry["columns"]),
                files,
            )
    except (KeyError, TypeError, ValueError) as error:
        logger.warning(
            "Writing every Parquet file again: the manifest of %s is invalid: %s", version, error
        )
        return {}
    return tables


def _link_or_copy(existing: Path, new: Path) -> bool:
    """Hard-link `existing` as `new`, or copy it where links fail; False when it is missing."""
    try:
        os.link(existing, new)
    except FileNotFoundError:
        return False
    except OSError as error:
        logger.debug("Copying %s instead of linking it: %s", existing, error)
        try:
            shutil.copyfile(existing, new)
        except FileNotFoundError:
            return False
    return True


def _write_parquet(
    connection: duckdb.DuckDBPyConnection,
    folder: Path,
    run_id: str,
    relations: Sequence[Relation],
    tables: Sequence[PublishedTable],
    previous: Mapping[str, PreviousParquetTable],
) -> None:
    """Write each table to `<folder>/<schema>.<table>/`, reusing unchanged files; add a manifest."""
    folder.mkdir(parents=True)
    manifest_tables = []
    for relation, table in zip(relations, tables, strict=True):
        table_folder = folder / relation.qualified_name
        table_folder.mkdir()
        earlier = previous.get(relation.qualified_name)
        if earlier is not None and earlier.columns != relation.columns:
            earlier = None
        manifest_files = []
        for file in _parquet_files(relation, table.signature):
            path = table_folder / file.name
            reused = (
                earlier is not None
                and earlier.files.get(file.name) == file.signature
                and _link_or_copy(earlier.folder / file.name, path)
            )
            if reused:
                table.parquet_files_linked += 1
            else:
                connection.execute(
                    f"copy ({_parquet_query(relation, file.condition)}) "
                    f"to {quote_literal(str(path))} (format parquet, compression zstd)"
                )
                table.parquet_files_written += 1
            manifest_files.append(
                {
                    "path": f"{relation.qualified_name}/{file.name}",
                    "rows": file.signature.rows,
                    "row_hash_sum": str(file.signature.hash_sum),
                }
            )
        manifest_tables.append(
            {
                "schema": relation.schema,
                "table": relation.name,
                "rows": table.row_count,
                "columns": [list(column) for column in relation.columns],
                "files": manifest_files,
            }
        )
    manifest = {
        "format_version": FORMAT_VERSION,
        "run_id": run_id,
        "duckdb_version": duckdb.__version__,
        "tables": manifest_tables,
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


# --- The new version as a whole -------------------------------------------------------------


def _build_new_version(
    context: RunContext,
    database_file: Path,
    parquet_folder: Path,
    previous: Mapping[str, PreviousParquetTable],
) -> Publication:
    """Write the new DuckDB file and Parquet folder under their temporary names."""
    settings = context.settings
    connection, source = _connect(settings)
    try:
        relations = _source_relations(connection, source)
        if not any(relation.schema == PUBLISHED_SCHEMA for relation in relations):
            raise StepFailedError(
                f"The warehouse {settings.warehouse_path} has no tables in schema "
                f"{PUBLISHED_SCHEMA}; run `llmeter build` before publishing."
            )
        publication: Publication | None = None
        full_reason = ""
        try:
            previous_run = _attach_previous_copy(connection, settings.published_path, database_file)
            tables = _write_tables(connection, source, relations, None)
            publication = Publication(tables, incremental_from=previous_run)
        except _NotReusableError as error:
            full_reason = str(error)
            logger.info("Copying every table in full: %s", full_reason)
        except (duckdb.Error, OSError) as error:
            full_reason = f"updating a copy of the earlier published file failed: {error}"
            logger.warning("Copying every table in full: %s", full_reason)

        if publication is None:
            # A new connection, so that nothing of the failed attempt stays attached.
            connection.close()
            connection, source = _connect(settings)
            _discard_file(database_file)
            _attach_target(connection, database_file)
            tables = _write_tables(connection, source, relations, full_reason)
            publication = Publication(tables, incremental_from=None, full_reason=full_reason)

        _write_version_tables(connection, context.run_id, publication.tables)
        _write_parquet(
            connection,
            parquet_folder,
            context.run_id,
            relations,
            publication.tables,
            previous,
        )
        connection.execute(f"checkpoint {TARGET}")
        connection.execute(f"detach {TARGET}")
        connection.execute(f"detach {quote_identifier(source)}")
    finally:
        connection.close()
    return publication


def _remove_stale_wal(database_file: Path) -> None:
    """Delete a write-ahead log left beside the published file by a crashed writer.

    Only the publish step writes the published file. A `.wal` file beside it comes from a
    process that opened it read-write and crashed; DuckDB would replay it into the new file.
    """
    wal = database_file.with_name(database_file.name + ".wal")
    if wal.exists():
        logger.warning(
            "Removing %s, left by a process that opened the published file read-write", wal
        )
        wal.unlink()


def _replace_pointer(parquet_root: Path, version_name: str) -> None:
    pointer = parquet_root / CURRENT_POINTER
    temporary = parquet_root / f".{CURRENT_POINTER}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(version_name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, pointer)


def _prune_parquet_versions(parquet_root: Path, current: str) -> list[str]:
    """Delete all but the newest PARQUET_VERSIONS_KEPT version folders; return the deleted ones.

    Run ids start with their UTC start time, so version folders sort by age. A file that a
    newer version hard-linked stays readable there after the older folder is deleted.
    """
    versions = sorted(
        path.name
        for path in parquet_root.iterdir()
        if path.is_dir() and path.name.startswith("v") and not path.name.endswith(".tmp")
    )
    keep = set(versions[-PARQUET_VERSIONS_KEPT:]) | {current}
    deleted = [name for name in versions if name not in keep]
    for name in deleted:
        shutil.rmtree(parquet_root / name)
    return deleted


def _remove_leftovers(folder: Path, pattern: str) -> None:
    """Delete temporary files or folders left by a publish that crashed."""
    for path in folder.glob(pattern):
        logger.warning("Removing %s, left by an earlier publish that did not finish", path)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _step_message(publication: Publication, published_file: Path) -> str:
    tables = publication.tables
    text = f"{len(tables)} tables published to {published_file}"
    if publication.incremental_from is None:
        return f"{text}, all copied in full ({publication.full_reason})"
    counts = {
        method: sum(1 for table in tables if table.method == method)
        for method in (UNCHANGED, DAYS_REPLACED, COPIED_IN_FULL)
    }
    return (
        f"{text}, starting from the version of run {publication.incremental_from}: "
        f"{counts[UNCHANGED]} unchanged, {counts[DAYS_REPLACED]} with days replaced, "
        f"{counts[COPIED_IN_FULL]} copied in full"
    )


def run_publish(context: RunContext) -> StepResult:
    """Publish the marts and the run audit as a new version of the published file and Parquet.

    Each table gets one audit row. `rows_read` and `rows_loaded` are both the table's row
    count in the new version. When a table of the previous version was kept or updated in
    place, the step checks that this count equals the warehouse's. The
    row's message and `details` record whether the table was unchanged, had days replaced or
    was copied in full, and how many rows this publish deleted and wrote (`rows_deleted`,
    `rows_written`).
    """
    settings = context.settings
    published_file = settings.published_path
    parquet_root = published_file.parent / PARQUET_FOLDER
    parquet_root.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(published_file.parent, f".{published_file.name}.*.tmp*")
    _remove_leftovers(parquet_root, "v*.tmp")

    version_name = f"v{context.run_id}"
    new_file = published_file.with_name(f".{published_file.name}.{context.run_id}.tmp")
    new_folder = parquet_root / f"{version_name}.tmp"
    try:
        previous = _read_previous_parquet(parquet_root)
        publication = _build_new_version(context, new_file, new_folder, previous)
    except BaseException:
        _discard_file(new_file)
        shutil.rmtree(new_folder, ignore_errors=True)
        raise

    _remove_stale_wal(published_file)
    os.replace(new_file, published_file)
    final_folder = parquet_root / version_name
    if final_folder.exists():
        shutil.rmtree(final_folder)
    os.replace(new_folder, final_folder)
    _replace_pointer(parquet_root, version_name)
    deleted = _prune_parquet_versions(parquet_root, version_name)

    for table in publication.tables:
        logger.info("Published %s: %s", table.qualified_name, table.summary)
    message = _step_message(publication, published_file)
    logger.info("Run %s: %s; Parquet in %s", context.run_id, message, final_folder)
    if deleted:
        logger.info("Deleted old Parquet versions %s", ", ".join(deleted))
    subjects = [
        SubjectResult(
            subject=table.qualified_name,
            rows_read=table.row_count,
            rows_loaded=table.row_count,
            rows_duplicate=0,
            rows_rejected=0,
            message=table.summary,
            details=table.details,
        )
        for table in publication.tables
    ]
    return StepResult(message=message, subjects=subjects)
