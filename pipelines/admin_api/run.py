"""One provider's extraction: its admin key, one dlt load, and an audit row per table."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from llmeter.audit import SubjectResult
from llmeter.extract import SourceSkippedError
from llmeter.steps import RunContext
from pipelines.admin_api.client import AdminApiError, ProviderInfo
from pipelines.admin_api.resources import ExtractReport
from pipelines.common import make_pipeline

logger = logging.getLogger(__name__)


def resolve_admin_key(provider: ProviderInfo) -> str:
    """Return the provider's admin key from dlt secrets or the plain environment variable.

    Raises:
        SourceSkippedError: no key is set.
    """
    key: str | None = dlt.secrets.get(f"sources.{provider.name}.admin_key", str)
    if not key:
        key = os.environ.get(f"{provider.name.upper()}_ADMIN_KEY")
    if not key:
        raise SourceSkippedError(
            f"no {provider.title} admin key; set {provider.key_setting} to load usage and costs"
        )
    return str(key)


def find_admin_api_error(error: BaseException) -> AdminApiError | None:
    """Return the AdminApiError that caused `error` (dlt wraps it), None when there is none."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, AdminApiError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def run_source(
    context: RunContext,
    provider: ProviderInfo,
    dataset_name: str,
    source: Any,
    report: ExtractReport,
    lookup_tables: Sequence[str],
) -> list[SubjectResult]:
    """Load `source` into `dataset_name` in one load package and return one result per table.

    Rows loaded are counted in the warehouse: the rows of this load for bucketed tables, every
    row for the lookup tables, which each load replaces.

    Raises:
        AdminApiError: a request or page failed; nothing of this provider was loaded.
    """
    pipeline = make_pipeline(context.settings, f"llmeter_{provider.name}", dataset_name)
    if pipeline.has_pending_data:
        # dlt loads a pending package instead of new data, so finish it on its own first.
        logger.warning(
            "%s: loading the package an earlier run extracted but did not load", provider.title
        )
        pipeline.run()
    try:
        load_info = pipeline.run(source)
    except PipelineStepFailed as failure:
        cause = find_admin_api_error(failure)
        if cause is None:
            raise
        raise type(cause)(
            f"{cause} Nothing was loaded for {provider.title}; the next run reads the same "
            "days again."
        ) from failure

    load_ids = list(load_info.loads_ids)
    results: list[SubjectResult] = []
    with pipeline.sql_client() as client:
        for table, table_report in report.tables.items():
            if not client.has_dataset() or not _table_exists(client, dataset_name, table):
                loaded = 0
            elif table in lookup_tables:
                loaded = _count(client, table, None)
            else:
                loaded = _count(client, table, load_ids)
            results.append(
                SubjectResult(
                    subject=f"{provider.name}.{table}",
                    rows_read=table_report.rows,
                    rows_loaded=loaded,
                    rows_duplicate=0,
                    rows_rejected=0,
                    details=table_report.details(),
                )
            )
    return results


def _table_exists(client: Any, dataset_name: str, table: str) -> bool:
    rows = client.execute_sql(
        "select count(*) from information_schema.tables where table_schema = %s "
        "and table_name = %s",
        dataset_name,
        table,
    )
    return bool(rows and rows[0][0])


def _count(client: Any, table: str, load_ids: list[str] | None) -> int:
    name = client.make_qualified_table_name(table)
    if load_ids is None:
        rows = client.execute_sql(f"select count(*) from {name}")
    elif not load_ids:
        return 0
    else:
        placeholders = ", ".join(["%s"] * len(load_ids))
        rows = client.execute_sql(
            f"select count(*) from {name} where _dlt_load_id in ({placeholders})", *load_ids
        )
    return int(rows[0][0]) if rows else 0
