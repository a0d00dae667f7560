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

NOTE: every publish copies every table in full. Copying only the tables a build changed is a
later optimisation.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from llmeter.audit import SubjectResult, utc_now
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

PARQUET_FOLDER = "parquet"
CURRENT_POINTER = "CURRENT"
PARQUET_VERSIONS_KEPT = 2
MANIFEST_FILE = "_manifest.json"

# Catalog name of the new published file while the step writes it.
TARGET = "llmeter_publish_target"


@dataclass(frozen=True)
class PublishedTable:
    """One table of the published file and its row count."""

    schema: str
    name: str
    row_count: int

    @property
    def qualified_name(self) -> str:
        """`schema.name`, as the audit rows and the Parquet file names write it."""
        return f"{self.schema}.{self.name}"


def quote_identifier(name: str) -> str:
    """Quote a DuckDB identifier, doubling any double quote inside it."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a DuckDB string literal, doubling any single quote inside it."""
    return "'" + value.replace("'", "''") + "'"


def _source_relations(connection: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str]]:
    """List the (schema, name) of every table and view to publish from the attached warehouse."""
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
    return [(str(schema), str(name)) for schema, name in [*marts, *audit]]


def _copy_tables(
    connection: duckdb.DuckDBPyConnection, source: str, relations: Sequence[tuple[str, str]]
) -> list[PublishedTable]:
    """Copy each relation from `source` to the new file with CREATE TABLE AS, keeping types."""
    for schema in sorted({schema for schema, _ in relations} | {AUDIT_SCHEMA}):
        connection.execute(f"create schema if not exists {TARGET}.{quote_identifier(schema)}")

    tables = []
    for schema, name in relations:
        relation = f"{quote_identifier(schema)}.{quote_identifier(name)}"
        connection.execute(
            f"create table {TARGET}.{relation} as "
            f"select * from {quote_identifier(source)}.{relation}"
        )
        row = connection.execute(f"select count(*) from {TARGET}.{relation}").fetchone()
        tables.append(PublishedTable(schema, name, int(row[0]) if row else 0))
    return tables


def _write_version_tables(
    connection: duckdb.DuckDBPyConnection, run_id: str, tables: Sequence[PublishedTable]
) -> None:
    audit = quote_identifier(AUDIT_SCHEMA)
    connection.execute(
        f"""
        create table {TARGET}.{audit}.{VERSION_TABLE} (
            run_id varchar not null,
            published_at timestamp not null,
            storage_version varchar not null,
            table_count integer not null
        )
        """
    )
    connection.execute(
        f"insert into {TARGET}.{audit}.{VERSION_TABLE} values (?, ?, ?, ?)",
        [run_id, utc_now(), STORAGE_VERSION, len(tables)],
    )
    connection.execute(
        f"""
        create table {TARGET}.{audit}.{MANIFEST_TABLE} (
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


def _write_parquet(
    connection: duckdb.DuckDBPyConnection, folder: Path, tables: Sequence[PublishedTable]
) -> None:
    """Write each published table to `<folder>/<schema>.<table>.parquet`, plus a manifest."""
    folder.mkdir(parents=True)
    for table in tables:
        relation = f"{quote_identifier(table.schema)}.{quote_identifier(table.name)}"
        target = folder / f"{table.qualified_name}.parquet"
        connection.execute(
            f"copy (select * from {TARGET}.{relation}) to {quote_literal(str(target))} "
            "(format parquet, compression zstd)"
        )
    manifest = {
        "tables": [
            {"schema": table.schema, "table": table.name, "rows": table.row_count}
            for table in tables
        ],
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _build_new_version(
    context: RunContext, database_file: Path, parquet_folder: Path
) -> list[PublishedTable]:
    """Write the new DuckDB file and Parquet folder under their temporary names."""
    settings = context.settings
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
        connection.execute(
            f"attach {quote_literal(str(database_file))} as {TARGET} "
            f"(storage_version {quote_literal(STORAGE_VERSION)})"
        )
        relations = _source_relations(connection, source)
        if not any(schema == PUBLISHED_SCHEMA for schema, _ in relations):
            raise StepFailedError(
                f"The warehouse {settings.warehouse_path} has no tables in schema "
                f"{PUBLISHED_SCHEMA}; run `llmeter build` before publishing."
            )
        tables = _copy_tables(connection, source, relations)
        _write_version_tables(connection, context.run_id, tables)
        _write_parquet(connection, parquet_folder, tables)
        connection.execute(f"checkpoint {TARGET}")
        connection.execute(f"detach {TARGET}")
        connection.execute(f"detach {quote_identifier(source)}")
    finally:
        connection.close()
    return tables


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

    Run ids start with their UTC start time, so version folders sort by age.
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


def run_publish(context: RunContext) -> StepResult:
    """Publish the marts and the run audit as a new version of the published file and Parquet."""
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
        tables = _build_new_version(context, new_file, new_folder)
    except BaseException:
        for leftover in (new_file, new_file.with_name(new_file.name + ".wal")):
            leftover.unlink(missing_ok=True)
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

    logger.info(
        "Published %d tables of run %s to %s and %s",
        len(tables),
        context.run_id,
        published_file,
        final_folder,
    )
    if deleted:
        logger.info("Deleted old Parquet versions %s", ", ".join(deleted))
    subjects = [
        SubjectResult(
            subject=table.qualified_name,
            rows_read=table.row_count,
            rows_loaded=table.row_count,
            rows_duplicate=0,
            rows_rejected=0,
        )
        for table in tables
    ]
    return StepResult(
        message=f"{len(tables)} tables published to {published_file}",
        subjects=subjects,
    )
