"""The OpenAI Administration API source: daily usage and costs, projects and API keys.

Loads dataset `raw_openai`: one table per usage endpoint (`usage_completions`, ...), `costs`
(grouped by project and line item), `costs_by_api_key` (also grouped by API key, from
2025-12-06 on, because the API rejects that grouping for earlier windows), `projects` and
`api_keys`. Usage and costs are read in daily buckets up to the day before the run's as-of
date, and each load replaces the stored buckets of its window; see `pipelines.admin_api`.

Settings (dlt config and secrets, or environment variables): `SOURCES__OPENAI__ADMIN_KEY`
(or `OPENAI_ADMIN_KEY`), `SOURCES__OPENAI__BASE_URL`, `SOURCES__OPENAI__BACKFILL_DAYS`,
`SOURCES__OPENAI__LOOKBACK_DAYS`, `SOURCES__OPENAI__REQUEST_TIMEOUT_SECONDS`,
`SOURCES__OPENAI__MAX_RETRIES`, `SOURCES__OPENAI__MAX_RETRY_WAIT_SECONDS` and
`SOURCES__OPENAI__RETRY_BACKOFF_SECONDS`.
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
from pipelines.openai.helpers import (
    make_client,
    read_api_keys,
    read_costs,
    read_projects,
    read_usage,
)
from pipelines.openai.settings import (
    API_KEYS_COLUMNS,
    COSTS_BY_API_KEY_EARLIEST,
    COSTS_BY_API_KEY_GROUP_BY,
    COSTS_COLUMNS,
    COSTS_GROUP_BY,
    COSTS_PAGE_SIZE,
    COSTS_PATH,
    DATASET_NAME,
    DEFAULT_BASE_URL,
    PROJECTS_COLUMNS,
    PROVIDER,
    USAGE_ENDPOINTS,
    USAGE_PAGE_SIZE,
)

LOOKUP_TABLES = ("projects", "api_keys")


@dlt.source(name="openai", section="openai")
def openai_source(
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
    """Return the resources of every OpenAI raw table.

    Args:
        context: the run, for its as-of date and its explicit `--since`/`--until` window.
        report: filled in with each table's window, pages and rows while the resources run.
        admin_key: an organization admin key (`sk-admin-...`).
        base_url: the API root, ending in `/v1`.
        backfill_days: days the first run reads, ending the day before the as-of date.
        lookback_days: days before the last loaded day's end that later runs read again.
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

    resources: list[DltResource] = []
    for endpoint in USAGE_ENDPOINTS:
        resources.append(
            bucketed_resource(
                endpoint.table,
                partial(
                    read_usage,
                    client,
                    endpoint.path,
                    endpoint.group_by,
                    USAGE_PAGE_SIZE,
                    endpoint.counts,
                    extracted_at,
                ),
                endpoint.columns(),
                options,
                report,
                extracted_at,
            )
        )
    for table, group_by, earliest in (
        ("costs", COSTS_GROUP_BY, None),
        ("costs_by_api_key", COSTS_BY_API_KEY_GROUP_BY, COSTS_BY_API_KEY_EARLIEST),
    ):
        resources.append(
            bucketed_resource(
                table,
                partial(read_costs, client, COSTS_PATH, group_by, COSTS_PAGE_SIZE, extracted_at),
                COSTS_COLUMNS,
                options,
                report,
                extracted_at,
                earliest=earliest,
            )
        )
    resources.append(
        lookup_resource(
            "projects", partial(read_projects, client), PROJECTS_COLUMNS, report, extracted_at
        )
    )
    resources.append(
        lookup_resource(
            "api_keys", partial(read_api_keys, client), API_KEYS_COLUMNS, report, extracted_at
        )
    )
    return resources


def extract(context: RunContext, tables: Sequence[str] | None = None) -> list[SubjectResult]:
    """Load the OpenAI raw tables and return one audit row per table.

    Args:
        context: the run.
        tables: load only these tables (for tests and partial reloads); None loads all.

    Raises:
        SourceSkippedError: no admin key is set.
        AdminApiError: a request failed or a page was malformed; nothing was loaded.
    """
    admin_key = resolve_admin_key(PROVIDER)
    report = ExtractReport()
    source = openai_source(context, report, admin_key=admin_key)
    if tables is not None:
        source = source.with_resources(*tables)
    return run_source(context, PROVIDER, DATASET_NAME, source, report, LOOKUP_TABLES)
