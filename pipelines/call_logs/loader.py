"""Load closed spool files into `raw_call_logs`, each file once, with dlt.

One run lists the closed spool files and skips those that `raw_call_logs.loaded_files` records
with the same size and modification time. A recorded file whose size or time changed is
reported as a warning and not reloaded. The new files are parsed, validated and deduplicated
(`batch`) in groups of at most LOAD_GROUP_BYTES. Each group is appended to the three tables in
one dlt load before the next group is read, so memory stays bounded and later groups deduplicate
against earlier ones.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa

from llmeter.audit import SubjectResult
from llmeter.settings import Settings
from pipelines.call_logs.batch import (
    ARROW_BATCH_ROWS,
    FileCounts,
    ParsedBatch,
    has_table,
    parse_and_deduplicate,
    recorded_files,
    scratch_connection,
)
from pipelines.call_logs.settings import (
    BUCKET_URL_SETTING,
    CALLS_SCHEMA,
    CALLS_TABLE,
    DATASET_NAME,
    DEFAULT_BUCKET_URL,
    LOADED_FILES_SCHEMA,
    LOADED_FILES_TABLE,
    PIPELINE_NAME,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    dlt_columns,
)
from pipelines.call_logs.spool import SpoolFile, SpoolFolder
from pipelines.common import make_pipeline

logger = logging.getLogger(__name__)

# Spool bytes parsed and loaded together. A group's spool files stay memory-mapped and its parsed
# rows stay in memory as Arrow until its dlt load ends. Loading 4 million records in 8 MiB files
# (bench/load_call_logs.py, 2 cores), the peak resident memory was about 0.35 GiB plus 2.2 times
# the group size: 0.9 GiB at 256 MiB, 1.4 GiB at 512 MiB, 2.5 GiB at 1 GiB, 4.6 GiB at 2 GiB.
# All four took 37 to 40 s of CPU time. A single larger file still forms one group.
LOAD_GROUP_BYTES = 256 * 1024**2

# dlt settings of this pipeline, applied where the dlt config does not set them. Row groups of
# ARROW_BATCH_ROWS let DuckDB insert a large parquet file with every thread, where pyarrow's
# default (up to 1,048,576 rows a group) leaves one thread to read it. Uncompressed parquet took
# about 0.4 s less CPU per million calls than snappy, and the files are deleted once loaded,
# because the warehouse contains the same rows.
PIPELINE_DEFAULTS: dict[str, Any] = {
    "data_writer.row_group_size": ARROW_BATCH_ROWS,
    "data_writer.compression": "none",
    "load.delete_completed_jobs": True,
}
# A loaded table never takes a new column or a second type for a column.
SCHEMA_CONTRACT: Any = {"tables": "evolve", "columns": "freeze", "data_type": "freeze"}


def changed_file_result(file: SpoolFile, recorded: tuple[int, dt.datetime]) -> SubjectResult:
    """Log and return the warning for a file that changed after it was loaded."""
    size, modified_at = recorded
    message = (
        f"{file.name} changed after it was loaded (size {size} -> {file.size_bytes} bytes,"
        f" modified {modified_at.isoformat()} -> {file.modified_at.isoformat()}) and was not"
        " reloaded. Spool files must not change once closed. To load its new records, copy it"
        " under a new name, where the records loaded before count as duplicates."
    )
    logger.warning("Call log file %s", message)
    return SubjectResult(subject=f"call_logs:{file.name}", status="warned", message=message)


def loaded_files_table(files: list[FileCounts], loaded_at: dt.datetime) -> pa.Table:
    """Build one `loaded_files` row per file of this load."""
    return pa.table(
        {
            "file_name": [counts.file.name for counts in files],
            "size_bytes": [counts.file.size_bytes for counts in files],
            "modified_at": [counts.file.modified_at for counts in files],
            "lines_read": [counts.lines_read for counts in files],
            "rows_loaded": [counts.rows_loaded for counts in files],
            "rows_duplicate": [counts.rows_duplicate for counts in files],
            "rows_rejected": [counts.rows_rejected for counts in files],
            "blank_lines": [counts.blank_lines for counts in files],
            "content_fields_dropped": [counts.content_fields_dropped for counts in files],
            "loaded_at": [loaded_at] * len(files),
        },
        schema=LOADED_FILES_SCHEMA,
    )


def finish_pending_load(pipeline: dlt.Pipeline) -> None:
    """Load a package that an earlier run extracted but did not finish loading.

    Deduplication reads the loaded tables, so a pending package must be in them first.
    """
    if pipeline.has_pending_data:
        logger.warning("Finishing the call log load that an earlier run left pending")
        pipeline.normalize()
        pipeline.load()


def run_dlt(pipeline: dlt.Pipeline, batch: ParsedBatch, loaded_at: dt.datetime) -> None:
    """Append the three tables in one dlt load, every column declared."""
    # NOTE: dlt writes the Arrow tables to Parquet and then inserts them, which with the double
    # parse of `validate` keeps the loader near a quarter of DuckDB's own NDJSON read rate on two
    # idle cores (BENCHMARKS.md).
    tables = (
        (CALLS_TABLE, batch.calls, CALLS_SCHEMA),
        (QUARANTINE_TABLE, batch.quarantine, QUARANTINE_SCHEMA),
        (LOADED_FILES_TABLE, loaded_files_table(batch.files, loaded_at), LOADED_FILES_SCHEMA),
    )
    resources = [
        dlt.resource(
            [table],
            name=name,
            write_disposition="append",
            columns=dlt_columns(schema),
            schema_contract=SCHEMA_CONTRACT,
        )
        for name, table, schema in tables
    ]
    pipeline.run(resources)


def apply_pipeline_defaults() -> None:
    """Set each of PIPELINE_DEFAULTS for this pipeline only, unless the dlt config sets it."""
    for key, value in PIPELINE_DEFAULTS.items():
        scoped_key = f"{PIPELINE_NAME}.{key}"
        if dlt.config.get(scoped_key) is None and dlt.config.get(key) is None:
            dlt.config[scoped_key] = value


def group_files(files: list[SpoolFile], group_bytes: int) -> list[list[SpoolFile]]:
    """Split `files` into consecutive groups of at most `group_bytes`, keeping their order.

    A file larger than `group_bytes` forms a group of its own.
    """
    groups: list[list[SpoolFile]] = []
    current_bytes = 0
    for file in files:
        if not groups or current_bytes + file.size_bytes > group_bytes:
            groups.append([])
            current_bytes = 0
        groups[-1].append(file)
        current_bytes += file.size_bytes
    return groups


def load_group(
    settings: Settings,
    pipeline: dlt.Pipeline,
    folder: SpoolFolder,
    files: list[SpoolFile],
    loaded_at: dt.datetime,
) -> list[FileCounts]:
    """Parse, validate and deduplicate `files`, append them in one dlt load; return their counts.

    The group's Arrow tables go out of scope when this returns.
    """
    # The scratch connection reads the warehouse, so it closes before dlt writes to it.
    with scratch_connection(settings) as connection:
        batch = parse_and_deduplicate(connection, folder, files, loaded_at)
    run_dlt(pipeline, batch, loaded_at)
    return batch.files


def release_group_memory() -> None:
    """Free the Arrow tables and memory-mapped files of the group that was just loaded.

    dlt's objects of a load refer to each other in cycles, and those cycles refer to the
    group's Arrow tables, so only a full garbage collection frees them. Python runs one rarely,
    and without it the resident memory grew by about 170 MiB a group. The memory pool then
    returns the freed memory to the operating system.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()


def log_file(counts: FileCounts) -> None:
    """Log the file's counts, and a warning when its records carried content fields."""
    logger.info(
        "Call log file %s: %d lines read, %d loaded, %d duplicate, %d rejected, "
        "%d with content fields dropped",
        counts.file.name,
        counts.lines_read,
        counts.rows_loaded,
        counts.rows_duplicate,
        counts.rows_rejected,
        counts.content_fields_dropped,
    )
    if counts.content_fields_dropped:
        logger.warning(
            "Call log file %s: %d records carried content fields (%s); the fields were "
            "dropped and never stored",
            counts.file.name,
            counts.content_fields_dropped,
            ", ".join(counts.content_field_names),
        )


def load_spool(
    settings: Settings, folder: SpoolFolder, group_bytes: int = LOAD_GROUP_BYTES
) -> list[SubjectResult]:
    """Load the new closed files of `folder`; return one audit row per new or changed file.

    The files are parsed and loaded in groups of at most `group_bytes` spool bytes. The last
    row, `call_logs`, counts files and no rows, so that summing rows over the subjects of a run
    counts every line once.
    """
    if group_bytes < 1:
        raise ValueError(f"group_bytes must be at least 1, got {group_bytes}")
    apply_pipeline_defaults()
    pipeline = make_pipeline(settings, PIPELINE_NAME, DATASET_NAME)
    finish_pending_load(pipeline)
    loaded_at = dt.datetime.now(dt.UTC)

    listed = folder.list_files()
    results: list[SubjectResult] = []
    new_files: list[SpoolFile] = []
    with scratch_connection(settings) as connection:
        recorded = recorded_files(connection)
        tables_exist = has_table(connection, CALLS_TABLE)
    for file in listed:
        if file.name not in recorded:
            new_files.append(file)
        elif recorded[file.name] != (file.size_bytes, file.modified_at):
            results.append(changed_file_result(file, recorded[file.name]))
    changed_files = len(results)

    if not new_files and not tables_exist:
        # Empty tables, so that the staging model builds before the first call arrives.
        empty = ParsedBatch(
            calls=CALLS_SCHEMA.empty_table(), quarantine=QUARANTINE_SCHEMA.empty_table(), files=[]
        )
        run_dlt(pipeline, empty, loaded_at)

    for group in group_files(new_files, group_bytes):
        for counts in load_group(settings, pipeline, folder, group, loaded_at):
            log_file(counts)
            results.append(counts.to_subject())
        release_group_memory()

    summary = {
        "files_listed": len(listed),
        "files_loaded": len(new_files),
        "files_already_loaded": len(listed) - len(new_files) - changed_files,
        "files_changed": changed_files,
    }
    logger.info("Call logs: %s", ", ".join(f"{key} {value}" for key, value in summary.items()))
    status = "warned" if changed_files else "succeeded"
    message = f"{changed_files} loaded files changed afterwards" if changed_files else ""
    results.append(
        SubjectResult(subject="call_logs", status=status, message=message, details=summary)
    )
    return results


def resolve_bucket_url(project_root: Path) -> str:
    """Return the spool folder or bucket URL, a relative local path resolved at the project root."""
    value = dlt.config.get(BUCKET_URL_SETTING, str) or DEFAULT_BUCKET_URL
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else project_root / path)
