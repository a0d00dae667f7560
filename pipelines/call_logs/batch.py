"""The scratch DuckDB work of one load: parse, validate and deduplicate spool files.

The work runs in an in-memory DuckDB with the warehouse attached read-only, and ends in Arrow
tables for dlt:

1. every new file is cut into lines (`spool.split_lines`) and parsed (`validate.parse_query`);
2. valid lines are deduplicated by event_id against each other and the loaded table. The first
   version wins: the loaded one, else the earliest file by modification time and name, then
   the earliest line. An identical repeat is a duplicate, and a repeat that differs in a
   compared field is rejected as a conflicting duplicate;
3. rejected lines are copied for the quarantine without their content fields.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmeter.audit import SubjectResult
from llmeter.settings import Settings
from pipelines.call_logs.settings import (
    CALLS_SCHEMA,
    CALLS_TABLE,
    COMPARED_FIELDS,
    CONTENT_FIELDS,
    DATASET_NAME,
    LOADED_FILES_TABLE,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    RECORD_FIELDS,
    UTC_TIMESTAMP,
)
from pipelines.call_logs.spool import SpoolFile, SpoolFolder, split_lines
from pipelines.call_logs.validate import parse_query, sql_string

# Lines handed to DuckDB per query: a few files at once, so that many small spool files do not
# cost one query each.
PARSE_BATCH_LINES = 500_000
# DuckDB scans an Arrow table in parallel by record batch.
ARROW_BATCH_ROWS = 122_880

CONTENT_PATCH = "{" + ", ".join(f'"{name}": null' for name in CONTENT_FIELDS) + "}"


@dataclass
class FileCounts:
    """Line counts of one spool file in a load."""

    file: SpoolFile
    lines_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    conflicting_duplicates: int = 0
    blank_lines: int = 0
    content_fields_dropped: int = 0
    content_field_names: list[str] = field(default_factory=list)

    def to_subject(self) -> SubjectResult:
        """Return the file's row of `audit.run_audit`."""
        problems = []
        if self.rows_rejected:
            problems.append(f"{self.rows_rejected} lines quarantined in raw_call_logs.quarantine")
        if self.content_fields_dropped:
            problems.append(
                f"{self.content_fields_dropped} records carried content fields "
                f"({', '.join(self.content_field_names)}), which were dropped"
            )
        return SubjectResult(
            subject=f"call_logs:{self.file.name}",
            status="warned" if problems else "succeeded",
            rows_read=self.lines_read,
            rows_loaded=self.rows_loaded,
            rows_duplicate=self.rows_duplicate,
            rows_rejected=self.rows_rejected,
            message="; ".join(problems),
            details={
                "content_fields_dropped": self.content_fields_dropped,
                "content_field_names": self.content_field_names,
                "conflicting_duplicates": self.conflicting_duplicates,
                "blank_lines": self.blank_lines,
                "size_bytes": self.file.size_bytes,
            },
        )


@dataclass
class ParsedBatch:
    """The Arrow tables of one load, ready for dlt."""

    calls: pa.Table
    quarantine: pa.Table
    files: list[FileCounts]


def open_scratch_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB in UTC that spills next to the warehouse when memory is short."""
    connection = duckdb.connect(":memory:", config={"memory_limit": settings.memory_limit})
    connection.execute("set TimeZone = 'UTC'")
    spill_folder = settings.warehouse_path.parent / ".call_logs_spill"
    connection.execute(f"set temp_directory = {sql_string(str(spill_folder))}")
    return connection


@contextmanager
def scratch_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the scratch connection, the warehouse attached read-only as `warehouse` if it exists.

    The connection is closed on exit, before dlt opens the warehouse to write.
    """
    connection = open_scratch_connection(settings)
    try:
        if settings.warehouse_path.exists():
            connection.execute(
                f"attach {sql_string(str(settings.warehouse_path))} as warehouse (read_only)"
            )
        yield connection
    finally:
        connection.close()


def has_table(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Return whether the attached warehouse has `raw_call_logs.<table>`."""
    rows = connection.execute(
        "select count(*) from duckdb_tables()"
        " where database_name = 'warehouse' and schema_name = ? and table_name = ?",
        [DATASET_NAME, table],
    ).fetchall()
    return rows[0][0] > 0


def recorded_files(connection: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, dt.datetime]]:
    """Return the size and modification time of every file in `loaded_files`, by file name."""
    if not has_table(connection, LOADED_FILES_TABLE):
        return {}
    rows = connection.execute(
        f"select file_name, size_bytes, modified_at"
        f" from warehouse.{DATASET_NAME}.{LOADED_FILES_TABLE} order by loaded_at"
    ).fetchall()
    return {name: (size, modified_at) for name, size, modified_at in rows}


def parse_batches(folder: SpoolFolder, files: list[SpoolFile]) -> Iterator[pa.Table]:
    """Yield Arrow tables of lines (with `file_index`) of about PARSE_BATCH_LINES lines each."""
    pending: list[pa.Table] = []
    pending_lines = 0
    for file_index, file in enumerate(files):
        lines = split_lines(folder.read_bytes(file))
        lines = lines.append_column(
            "file_index", pa.array(np.full(lines.num_rows, file_index, dtype=np.int32))
        )
        pending.append(lines)
        pending_lines += lines.num_rows
        if pending_lines >= PARSE_BATCH_LINES:
            yield pa.concat_tables(pending)
            pending, pending_lines = [], 0
    if pending:
        yield pa.concat_tables(pending)


def parse_files(
    connection: duckdb.DuckDBPyConnection, folder: SpoolFolder, files: list[SpoolFile]
) -> tuple[pa.Table, list[pa.Table]]:
    """Parse every line of `files`; return the parsed rows and the line tables.

    The parsed rows stay an Arrow table, registered as `parsed` for the queries that follow,
    because the valid rows go to dlt as they are. The line tables (memory-mapped for local
    files) are kept to copy rejected lines to the quarantine.
    """
    query = parse_query()
    parsed_parts: list[pa.Table] = []
    line_tables: list[pa.Table] = []
    for lines_table in parse_batches(folder, files):
        lines = pa.Table.from_batches(lines_table.to_batches(max_chunksize=ARROW_BATCH_ROWS))
        connection.register("lines", lines)
        parsed_parts.append(connection.sql(query).to_arrow_table(ARROW_BATCH_ROWS))
        connection.unregister("lines")
        line_tables.append(lines_table)
    parsed = pa.concat_tables(parsed_parts)
    connection.register("parsed", parsed)
    return parsed, line_tables


def register_files(connection: duckdb.DuckDBPyConnection, files: list[SpoolFile]) -> None:
    """Create the scratch table `files`: file_index and the file name stored as source_file."""
    table = pa.table(
        {
            "file_index": pa.array(range(len(files)), pa.int32()),
            "source_file": pa.array([file.name for file in files], pa.string()),
        }
    )
    connection.register("files_arrow", table)
    connection.execute("create table files as select * from files_arrow")
    connection.unregister("files_arrow")


def find_repeats(connection: duckdb.DuckDBPyConnection) -> None:
    """Fill the scratch table `repeats`: every valid line that is not the first with its event_id.

    The first version of an event_id is the one already loaded, else the earliest file (by
    modification time, then name) and line. A later line is a `duplicate` when every compared
    field equals the first version's, else a `conflict` with a reason naming the fields.
    """
    loaded = has_table(connection, CALLS_TABLE)
    compared = ", ".join(COMPARED_FIELDS)
    already_loaded = (
        f"""
        union
        select valid.event_id
        from valid
        semi join warehouse.{DATASET_NAME}.{CALLS_TABLE} as loaded
            on valid.event_id = loaded.event_id"""
        if loaded
        else ""
    )
    earlier_versions = (
        f"""
        union all
        select
            0 as origin,
            epoch_us(loaded_at) as loaded_order,
            -1 as file_index,
            source_line as line_number,
            source_file,
            event_id,
            {compared}
        from warehouse.{DATASET_NAME}.{CALLS_TABLE}
        where event_id in (select event_id from repeated_ids)"""
        if loaded
        else ""
    )
    differences = ", ".join(
        f"case when later.{name} is distinct from first.{name} then '{name}' end"
        for name in COMPARED_FIELDS
    )
    connection.execute(
        f"""
create table repeats as
with valid as (
    select *
    from parsed
    where reason is null and not is_blank
),

-- Grouping by a 64-bit hash first took half the time of grouping the strings (1M UUIDs).
repeated_hashes as (
    select hash(event_id) as event_hash
    from valid
    group by event_hash
    having count(*) > 1
),

repeated_ids as (
    select event_id
    from valid
    where hash(event_id) in (select event_hash from repeated_hashes)
    group by event_id
    having count(*) > 1{already_loaded}
),

versions as (
    select
        1 as origin,
        0 as loaded_order,
        valid.file_index,
        valid.line_number,
        files.source_file,
        valid.event_id,
        {", ".join(f"valid.{name}" for name in COMPARED_FIELDS)}
    from valid
    inner join files on valid.file_index = files.file_index
    where valid.event_id in (select event_id from repeated_ids){earlier_versions}
),

ranked as (
    select
        *,
        row_number() over (
            partition by event_id order by origin, loaded_order, file_index, line_number
        ) as version_number
    from versions
),

firsts as (
    select *
    from ranked
    where version_number = 1
)

select
    later.file_index,
    later.line_number,
    concat_ws(', ', {differences}) as different_fields,
    case when different_fields = '' then 'duplicate' else 'conflict' end as outcome,
    'conflicting duplicate: event_id first seen in ' || first.source_file || ' line '
    || first.line_number || ', which differs in ' || different_fields as reason
from ranked as later
inner join firsts as first on later.event_id = first.event_id
where later.version_number > 1 and later.origin = 1
"""
    )


def calls_table(
    connection: duckdb.DuckDBPyConnection,
    parsed: pa.Table,
    files: list[SpoolFile],
    loaded_at: dt.datetime,
) -> pa.Table:
    """Select the valid lines that are the first version of their event_id, as `CALLS_SCHEMA`.

    Filtered with Arrow compute, so that a clean file costs no copy of its rows.
    """
    keep = pc.and_(pc.is_null(parsed["reason"]), pc.invert(parsed["is_blank"]))
    repeats: pa.Table = connection.sql(
        "select file_index, line_number from repeats"
    ).to_arrow_table()
    if repeats.num_rows:
        keep = pc.and_(keep, pc.invert(pc.is_in(line_keys(parsed), value_set=line_keys(repeats))))
    if not pc.all(keep).as_py():
        parsed = parsed.filter(keep)

    file_names = pa.array([file.name for file in files], pa.string())
    columns = [parsed[field.name] for field in RECORD_FIELDS]
    columns += [
        pc.take(file_names, parsed["file_index"]),
        parsed["line_number"],
        utc_timestamps(loaded_at, parsed.num_rows),
    ]
    return pa.Table.from_arrays(columns, names=CALLS_SCHEMA.names).cast(CALLS_SCHEMA)


def utc_timestamps(moment: dt.datetime, count: int) -> pa.Array:
    """Return `moment` repeated `count` times, without a Python object per row."""
    microseconds = (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return pa.array(np.full(count, microseconds, dtype=np.int64)).cast(UTC_TIMESTAMP)


def line_keys(table: pa.Table) -> pa.ChunkedArray:
    """Return one int64 key per line: file_index * 2^40 + line_number."""
    file_index = pc.cast(table["file_index"], pa.int64())
    return pc.add(pc.multiply(file_index, 1 << 40), table["line_number"])


def quarantine_table(
    connection: duckdb.DuckDBPyConnection, lines: list[pa.Table], quarantined_at: dt.datetime
) -> pa.Table:
    """Build the quarantine rows of rejected lines and conflicting duplicates.

    A line that is a JSON object is stored without its content fields. Any other line may hold
    a prompt that cannot be cut out, so only its length and SHA-256 are stored.
    """
    # NOTE: only top-level content fields are removed. A prompt that an application nested in
    # an unknown field (`{"metadata": {"prompt": ...}}`) stays in a rejected line's raw_line.
    connection.execute(
        """
create table rejected as
select file_index, line_number, reason, event_id, is_object, content_fields
from parsed
where reason is not null
union all
select
    repeats.file_index,
    repeats.line_number,
    repeats.reason,
    parsed.event_id,
    true as is_object,
    parsed.content_fields
from repeats
inner join parsed
    on repeats.file_index = parsed.file_index and repeats.line_number = parsed.line_number
where repeats.outcome = 'conflict'
"""
    )
    if connection.execute("select count(*) from rejected").fetchall() == [(0,)]:
        return QUARANTINE_SCHEMA.empty_table()

    all_lines = pa.concat_tables(lines)
    connection.register("all_lines", all_lines)
    already_quarantined = (
        f"""
anti join warehouse.{DATASET_NAME}.{QUARANTINE_TABLE} as stored
    on files.source_file = stored.source_file and rejected.line_number = stored.line_number"""
        if has_table(connection, QUARANTINE_TABLE)
        else ""
    )
    rows = connection.execute(
        f"""
select
    files.source_file,
    rejected.line_number,
    rejected.event_id,
    rejected.reason,
    case
        when rejected.is_object then json_merge_patch(decode(all_lines.line), ?)
    end as raw_line,
    all_lines.line_bytes,
    all_lines.line,
    rejected.content_fields
from rejected
inner join files on rejected.file_index = files.file_index
inner join all_lines
    on rejected.file_index = all_lines.file_index
    and rejected.line_number = all_lines.line_number{already_quarantined}
order by rejected.file_index, rejected.line_number
""",
        [CONTENT_PATCH],
    ).fetchall()
    connection.unregister("all_lines")

    columns: dict[str, list[Any]] = {name: [] for name in QUARANTINE_SCHEMA.names}
    for source_file, line_number, event_id, reason, raw_line, length, line, content in rows:
        columns["source_file"].append(source_file)
        columns["line_number"].append(line_number)
        columns["event_id"].append(event_id)
        columns["reason"].append(reason)
        columns["raw_line"].append(raw_line)
        columns["raw_line_bytes"].append(length)
        columns["raw_line_sha256"].append(hashlib.sha256(line[:length]).hexdigest())
        columns["content_fields"].append(content)
        columns["quarantined_at"].append(quarantined_at)
    return pa.table(columns, schema=QUARANTINE_SCHEMA)


def count_files(connection: duckdb.DuckDBPyConnection, files: list[SpoolFile]) -> list[FileCounts]:
    """Per-file counts; lines read = loaded + duplicate + rejected, blank lines not counted."""
    rows = connection.execute(
        """
with line_counts as (
    select
        file_index,
        count(*) filter (where not is_blank) as lines_read,
        count(*) filter (where is_blank) as blank_lines,
        count(*) filter (where reason is not null) as invalid_lines,
        count(content_fields) as content_fields_dropped,
        list_sort(list_distinct(flatten(list(string_split(content_fields, ',')))))
            as content_field_names
    from parsed
    group by file_index
),

repeat_counts as (
    select
        file_index,
        count(*) filter (where outcome = 'duplicate') as duplicates,
        count(*) filter (where outcome = 'conflict') as conflicts
    from repeats
    group by file_index
)

select
    line_counts.*,
    coalesce(repeat_counts.duplicates, 0) as duplicates,
    coalesce(repeat_counts.conflicts, 0) as conflicts
from line_counts
left join repeat_counts on line_counts.file_index = repeat_counts.file_index
"""
    ).fetchall()
    counts = {index: FileCounts(file=file) for index, file in enumerate(files)}
    for index, read, blank, invalid, content, names, duplicates, conflicts in rows:
        result = counts[index]
        result.lines_read = read
        result.blank_lines = blank
        result.rows_duplicate = duplicates
        result.conflicting_duplicates = conflicts
        result.rows_rejected = invalid + conflicts
        result.rows_loaded = read - invalid - duplicates - conflicts
        result.content_fields_dropped = content
        result.content_field_names = list(names)
    return [counts[index] for index in range(len(files))]


def parse_and_deduplicate(
    connection: duckdb.DuckDBPyConnection,
    folder: SpoolFolder,
    files: list[SpoolFile],
    loaded_at: dt.datetime,
) -> ParsedBatch:
    """Parse, validate and deduplicate `files` into the Arrow tables of one load."""
    register_files(connection, files)
    parsed, lines = parse_files(connection, folder, files)
    find_repeats(connection)
    counts = count_files(connection, files)
    return ParsedBatch(
        calls=calls_table(connection, parsed, files, loaded_at),
        quarantine=quarantine_table(connection, lines, loaded_at),
        files=counts,
    )
