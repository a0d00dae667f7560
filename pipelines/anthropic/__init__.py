"""The Anthropic Admin API source: the daily usage and cost reports, API keys and workspaces.

Loads dataset `raw_anthropic`: `usage_messages` (the Messages usage report grouped by model,
API key, workspace, service tier and context window), `cost_report` (grouped by workspace and
description, amounts in cents), `api_keys` and `workspaces`. Reports are read in daily buckets
up to the day before the run's as-of date, and each load replaces the stored buckets of its
window; see `pipelines.admin_api`.

Settings (dlt config and secrets, or environment variables): `SOURCES__ANTHROPIC__ADMIN_KEY`
(or `ANTHROPIC_ADMIN_KEY`), `SOURCES__ANTHROPIC__BASE_URL`, `SOURCES__ANTHROPIC__BACKFILL_DAYS`,
`SOURCES__ANTHROPIC__LOOKBACK_DAYS`, `SOURCES__ANTHROPIC__REQUEST_TIMEOUT_SECONDS`,
`SOURCES__ANTHROPIC__MAX_RETRIES`, `SOURCES__ANTHROPIC__MAX_RETRY_WAIT_SECONDS` and
`SOURCES__ANTHROPIC__RETRY_BACKOFF_SECONDS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial

import dlt
from dlt.extract import DltResource

from llmeter.audit import SubjectResult
from llmeter.steps import RunContext
from pipelines.admin_api import (
    ExtractReport,
    RetryPolicy,
    bucketed_resource,
    lookup_resource,
    resolve_admin_key,
    run_source,
    window_options,
)
from pipelines.anthropic.helpers import make_client, read_api_keys, read_report, read_workspaces
from pipelines.anthropic.settings import (
    API_KEYS_COLUMNS,
    COST_COLUMNS,
    COST_GROUP_BY,
    COST_PAGE_SIZE,
    COST_PATH,
    DATASET_NAME,
    DEFAULT_BASE_URL,
    PROVIDER,
    USAGE_COLUMNS,
    USAGE_GROUP_BY,
    USAGE_PAGE_SIZE,
    USAGE_PATH,
    WORKSPACES_COLUMNS,
)

LOOKUP_TABLES = ("api_keys", "workspaces")


@dlt.source(name="anthropic", section="anthropic")
def anthropic_source(
    context: RunContext,
    report: ExtractReport,
    admin_key: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    backfill_days: int = 90,
    lookback_days: int = 3,
    request_timeout_seconds: float = 60.0,
    max_retries: int = 5,
    max_retry_wait_seconds: float = 300.0,
    retry_backoff_seconds: float = 1.0,
) -> list[DltResource]:
    """Return the resources of every Anthropic raw table.

    Args:
        context: the run, for its as-of date and its explicit `--since`/`--until` window.
        report: filled in with each table's window, pages and rows while the resources run.
        admin_key: an organization admin key (`sk-ant-admin01-...`).
        base_url: the API root, ending in `/v1`.
        backfill_days: days the first run reads, ending the day before the as-of date.
        lookback_days: days before the end of the last loaded window that later runs read
            again, because Anthropic restates recent buckets and the cost report lags a day.
        request_timeout_seconds: connect and read timeout of one request.
        max_retries: retries of a request after a 429, a 5xx, a timeout or a connection error.
        max_retry_wait_seconds: the total wait between the retries of one request.
        retry_backoff_seconds: the first wait when a response has no `Retry-After`; it doubles
            with every retry.
    """
    options = window_options(context, backfill_days, lookback_days)
    policy = RetryPolicy(
        timeout_seconds=request_timeout_seconds,
        max_retries=max_retries,
        max_wait_seconds=max_retry_wait_seconds,
        backoff_seconds=retry_backoff_seconds,
    )
    client = make_client(admin_key, base_url, policy)
    extracted_at = dt.datetime.now(dt.UTC)

    read_usage = partial(
        read_report, client, USAGE_PATH, USAGE_GROUP_BY, USAGE_PAGE_SIZE, False, extracted_at
    )
    read_costs = partial(
        read_report, client, COST_PATH, COST_GROUP_BY, COST_PAGE_SIZE, True, extracted_at
    )
    return [
        bucketed_resource(
            "usage_messages",
            read_usage,
            USAGE_COLUMNS,
            options,
            report,
            extracted_at,
        ),
        bucketed_resource(
            "cost_report",
            read_costs,
            COST_COLUMNS,
            options,
            report,
            extracted_at,
        ),
        lookup_resource(
            "api_keys", partial(read_api_keys, client), API_KEYS_COLUMNS, report, extracted_at
        ),
        lookup_resource(
            "workspaces", partial(read_workspaces, client), WORKSPACES_COLUMNS, report, extracted_at
        ),
    ]


def extract(context: RunContext, tables: Sequence[str] | None = None) -> list[SubjectResult]:
    """Load the Anthropic raw tables and return one audit row per table.

    Args:
        context: the run.
        tables: load only these tables (for tests and partial reloads); None loads all.

    Raises:
        SourceSkippedError: no admin key is set.
        AdminApiError: a request failed or a page was malformed; nothing was loaded.
    """
    admin_key = resolve_admin_key(PROVIDER)
    report = ExtractReport()
    source = anthropic_source(context, report, admin_key=admin_key)
    if tables is not None:
        source = source.with_resources(*tables)
    return run_source(context, PROVIDER, DATASET_NAME, source, report, LOOKUP_TABLES)
