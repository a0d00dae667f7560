"""The customers source: customers and subscriptions from CSV files in a folder.

The folder is `SOURCES__CUSTOMERS__BUCKET_URL`: any dlt filesystem URL, or a path relative to
the project root. Without that setting the folder is `data/customers`, and when that folder does
not exist either, the source is skipped. The folder must contain `customers.csv` and
`subscriptions.csv` (see docs/input-formats.md). The files are a full snapshot, so every run
replaces `raw_customers.customers`, `raw_customers.subscriptions` and `raw_customers.quarantine`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.sources import DltResource
from dlt.sources.filesystem import filesystem

from llmeter.audit import SubjectResult
from llmeter.extract import SourceSkippedError
from llmeter.settings import Settings
from llmeter.steps import RunContext
from pipelines.common import make_pipeline
from pipelines.customers.helpers import (
    ParsedFile,
    decode_csv,
    parse_customers,
    parse_subscriptions,
)
from pipelines.customers.settings import (
    CUSTOMERS_FILE,
    DEFAULT_FOLDER,
    SUBSCRIPTIONS_FILE,
    customers_hints,
    quarantine_hints,
    subscriptions_hints,
)

logger = logging.getLogger(__name__)

PIPELINE_NAME = "customers"
DATASET_NAME = "raw_customers"
BUCKET_URL_SETTING = "sources.customers.bucket_url"


def resolve_bucket_url(settings: Settings) -> str:
    """Return the folder to read, or raise SourceSkippedError when none is configured."""
    configured: object = dlt.config.get(BUCKET_URL_SETTING)
    if configured:
        value = str(configured)
        if "://" in value or Path(value).is_absolute():
            return value
        return str(settings.project_root / value)

    default_folder = settings.project_root / DEFAULT_FOLDER
    if default_folder.is_dir():
        return str(default_folder)
    raise SourceSkippedError(
        f"SOURCES__CUSTOMERS__BUCKET_URL is not set and {default_folder} does not exist"
    )


def read_file(bucket_url: str, file_name: str) -> str:
    """Read one CSV file of the folder as text, raising FileNotFoundError when it is missing."""
    items = list(filesystem(bucket_url=bucket_url, file_glob=file_name))
    if not items:
        raise FileNotFoundError(
            f"{file_name} not found in {bucket_url}; the customers source needs both "
            f"{CUSTOMERS_FILE} and {SUBSCRIPTIONS_FILE}"
        )
    return decode_csv(items[0].read_bytes(), file_name)


def _replace_resource(
    name: str, rows: Sequence[dict[str, Any]], hints: dict[str, TColumnSchema]
) -> DltResource:
    """Build a resource that replaces table `name` with `rows`, creating it even when empty."""

    def generate() -> Iterator[Any]:
        if not rows:
            yield dlt.mark.materialize_table_schema()
        yield from rows

    return dlt.resource(
        generate,
        name=name,
        write_disposition="replace",
        columns=hints,
    )


@dlt.source(name="customers")
def customers_source(
    customers: ParsedFile, subscriptions: ParsedFile
) -> tuple[DltResource, DltResource, DltResource]:
    """Build the customers, subscriptions and quarantine resources of one file snapshot."""
    return (
        _replace_resource("customers", customers.rows, customers_hints()),
        _replace_resource("subscriptions", subscriptions.rows, subscriptions_hints()),
        _replace_resource(
            "quarantine", customers.quarantine + subscriptions.quarantine, quarantine_hints()
        ),
    )


def _subject_result(parsed: ParsedFile) -> SubjectResult:
    return SubjectResult(
        subject=f"{PIPELINE_NAME}/{parsed.file_name}",
        status="warned" if parsed.rows_rejected else "succeeded",
        rows_read=parsed.rows_read,
        rows_loaded=parsed.rows_loaded,
        rows_duplicate=parsed.rows_duplicate,
        rows_rejected=parsed.rows_rejected,
        message=(
            f"{parsed.rows_rejected} rows rejected, {parsed.rows_duplicate} duplicates; "
            f"see {DATASET_NAME}.quarantine"
            if parsed.quarantine
            else ""
        ),
        details={"quarantine_reasons": dict(sorted(parsed.reason_counts.items()))},
    )


def extract(context: RunContext) -> list[SubjectResult]:
    """Load the customer and subscription files and return one count row per file."""
    settings = context.settings
    bucket_url = resolve_bucket_url(settings)
    logger.info("Reading customers and subscriptions from %s", bucket_url)

    customers = parse_customers(read_file(bucket_url, CUSTOMERS_FILE), CUSTOMERS_FILE)
    subscriptions = parse_subscriptions(
        read_file(bucket_url, SUBSCRIPTIONS_FILE), SUBSCRIPTIONS_FILE
    )

    pipeline = make_pipeline(settings, PIPELINE_NAME, DATASET_NAME)
    # A package left by a failed run contains an older snapshot, and dlt would load it instead
    # of the new one. It is aborted, because every run reads the files again in full.
    pipeline.abort_packages()
    pipeline.run(customers_source(customers, subscriptions))

    results = [_subject_result(customers), _subject_result(subscriptions)]
    for result in results:
        if result.rows_rejected:
            logger.warning("%s: %s", result.subject, result.message)
    return results
