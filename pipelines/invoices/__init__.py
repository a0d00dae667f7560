"""The invoices source: provider invoice totals from CSV files in a folder.

The folder is `SOURCES__INVOICES__BUCKET_URL` (any dlt filesystem URL, or a path relative to the
project root), else `data/invoices` when that folder exists; with neither, the source is
skipped. Every `*.csv` file of the folder is an invoice totals file (docs/input-formats.md).

All files are read on every run, oldest first by modification time (see `helpers`), so a
corrected invoice in a newer file replaces the older version. `raw_invoices.invoices` is merged
on `invoice_id`: an invoice whose file was removed from the folder stays loaded.
`raw_invoices.quarantine` is replaced on every run and lists the rejected and replaced rows of
the files as they are now.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.sources import DltResource
from dlt.sources.filesystem import filesystem

from llmeter.audit import SubjectResult
from llmeter.extract import SourceSkippedError
from llmeter.settings import Settings
from llmeter.steps import RunContext
from pipelines.common import make_pipeline
from pipelines.invoices.helpers import (
    FileCounts,
    InvoiceFile,
    ParsedInvoices,
    decode_csv,
    parse_invoice_files,
)
from pipelines.invoices.settings import (
    DEFAULT_FOLDER,
    FILE_GLOB,
    invoices_hints,
    quarantine_hints,
)

logger = logging.getLogger(__name__)

PIPELINE_NAME = "invoices"
DATASET_NAME = "raw_invoices"
BUCKET_URL_SETTING = "sources.invoices.bucket_url"


def resolve_bucket_url(settings: Settings) -> str:
    """Return the folder to read, or raise SourceSkippedError when none is configured.

    Raises:
        SourceSkippedError: neither the setting nor the default folder exists.
        FileNotFoundError: the setting names a local folder that does not exist.
    """
    configured: object = dlt.config.get(BUCKET_URL_SETTING)
    if configured:
        value = str(configured)
        if "://" in value and not value.startswith("file://"):
            return value
        folder = Path(value.removeprefix("file://"))
        if not folder.is_absolute():
            folder = settings.project_root / folder
        if not folder.is_dir():
            raise FileNotFoundError(
                f"SOURCES__INVOICES__BUCKET_URL is {value!r}, but {folder} is not a folder; "
                "create it or correct the setting"
            )
        return str(folder)

    default_folder = settings.project_root / DEFAULT_FOLDER
    if default_folder.is_dir():
        return str(default_folder)
    raise SourceSkippedError(
        f"SOURCES__INVOICES__BUCKET_URL is not set and {default_folder} does not exist"
    )


def read_files(bucket_url: str) -> list[InvoiceFile]:
    """Read every invoice file of the folder as text, with its modification time in UTC."""
    files = []
    for item in filesystem(bucket_url=bucket_url, file_glob=FILE_GLOB):
        modified_at: dt.datetime = item["modification_date"]
        if modified_at.tzinfo is not None:
            modified_at = modified_at.astimezone(dt.UTC).replace(tzinfo=None)
        files.append(
            InvoiceFile(
                file_name=item["relative_path"],
                modified_at=modified_at,
                text=decode_csv(item.read_bytes(), item["relative_path"]),
            )
        )
    return files


def _rows_or_schema(rows: Sequence[dict[str, Any]]) -> Iterator[Any]:
    """Yield `rows`, or a marker that creates the table from its hints when there are none."""
    if not rows:
        yield dlt.mark.materialize_table_schema()
    yield from rows


@dlt.source(name="invoices")
def invoices_source(parsed: ParsedInvoices) -> tuple[DltResource, DltResource]:
    """The invoices table (merged on `invoice_id`) and the quarantine table (replaced)."""
    invoices = dlt.resource(
        _rows_or_schema(parsed.invoices),
        name="invoices",
        write_disposition="merge",
        primary_key="invoice_id",
        columns=invoices_hints(),
    )
    quarantine = dlt.resource(
        _rows_or_schema(parsed.quarantine),
        name="quarantine",
        write_disposition="replace",
        columns=quarantine_hints(),
    )
    return invoices, quarantine


def _subject_result(counts: FileCounts) -> SubjectResult:
    problems = []
    if counts.rows_rejected:
        problems.append(f"{counts.rows_rejected} rows rejected")
    if counts.rows_duplicate:
        problems.append(f"{counts.rows_duplicate} rows replaced by a later version")
    return SubjectResult(
        subject=f"{PIPELINE_NAME}/{counts.file_name}",
        status="warned" if counts.rows_rejected else "succeeded",
        rows_read=counts.rows_read,
        rows_loaded=counts.rows_loaded,
        rows_duplicate=counts.rows_duplicate,
        rows_rejected=counts.rows_rejected,
        message=f"{', '.join(problems)}; see {DATASET_NAME}.quarantine" if problems else "",
        details={"quarantine_reasons": dict(sorted(counts.reason_counts.items()))},
    )


def extract(context: RunContext) -> list[SubjectResult]:
    """Load every invoice file of the folder and return one count row per file."""
    settings = context.settings
    bucket_url = resolve_bucket_url(settings)
    logger.info("Reading invoice files %s from %s", FILE_GLOB, bucket_url)

    files = read_files(bucket_url)
    if not files:
        logger.warning("No invoice files (%s) in %s", FILE_GLOB, bucket_url)
    parsed = parse_invoice_files(files)

    pipeline = make_pipeline(settings, PIPELINE_NAME, DATASET_NAME)
    # A package left by a failed run holds older file contents, and dlt would load it before
    # the new one; the files are read again in full on every run, so it is dropped.
    pipeline.abort_packages()
    pipeline.run(invoices_source(parsed))

    results = [_subject_result(counts) for counts in parsed.files]
    if not results:
        results.append(
            SubjectResult(
                subject=PIPELINE_NAME,
                status="warned",
                rows_read=0,
                rows_loaded=0,
                rows_duplicate=0,
                rows_rejected=0,
                message=f"no invoice files ({FILE_GLOB}) in {bucket_url}",
            )
        )
    for result in results:
        if result.rows_rejected:
            logger.warning("%s: %s", result.subject, result.message)
    return results
