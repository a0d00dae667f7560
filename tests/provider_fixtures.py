"""Helpers of the provider source tests: settings, runs against the fake Admin APIs, queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.audit import SubjectResult
from llmeter.demo.fake_apis import FakeProviderServer
from llmeter.settings import Settings
from llmeter.steps import RunContext
from tests.dbt_helpers import run_dbt

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Columns whose values differ between two loads of the same data.
LOAD_COLUMNS = ("extracted_at", "_dlt_load_id", "_dlt_id")


def epoch(day: dt.date) -> int:
    """Return the Unix seconds of a day's UTC midnight."""
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def run_context(
    warehouse: Path,
    as_of: dt.date,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> RunContext:
    """Return the context of an extract run on `warehouse` with the as-of date `as_of`."""
    settings = Settings(
        project_root=PROJECT_ROOT,
        warehouse_path=warehouse,
        published_path=warehouse.with_name("published.duckdb"),
        memory_limit="1GB",
        as_of_date=as_of,
    )
    return RunContext(settings=settings, run_id="test", command="extract", since=since, until=until)


def configure_provider(
    monkeypatch: pytest.MonkeyPatch,
    server: FakeProviderServer,
    provider: str,
    *,
    backfill_days: int = 10,
    lookback_days: int = 3,
) -> None:
    """Point `provider`'s source at the fake server with its admin key and fast retries."""
    prefix = f"SOURCES__{provider.upper()}__"
    base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    monkeypatch.delenv(f"{provider.upper()}_ADMIN_KEY", raising=False)
    monkeypatch.setenv(prefix + "ADMIN_KEY", server.admin_keys[provider])
    monkeypatch.setenv(prefix + "BASE_URL", base_url)
    monkeypatch.setenv(prefix + "BACKFILL_DAYS", str(backfill_days))
    monkeypatch.setenv(prefix + "LOOKBACK_DAYS", str(lookback_days))
    monkeypatch.setenv(prefix + "RETRY_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv(prefix + "REQUEST_TIMEOUT_SECONDS", "10")


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    """Run `sql` on the warehouse, read-only and in UTC, and return every row."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        return connection.execute(sql).fetchall()


def table_rows(warehouse: Path, table: str, order_by: str = "all") -> list[tuple[Any, ...]]:
    """Return a raw table's rows without the columns that change from load to load."""
    schema, name = table.split(".")
    columns = [
        row[0]
        for row in query(
            warehouse,
            "select column_name from information_schema.columns "
            f"where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position",
        )
        if row[0] not in LOAD_COLUMNS
    ]
    return query(warehouse, f"select {', '.join(columns)} from {table} order by {order_by}")


def by_subject(results: Sequence[SubjectResult]) -> dict[str, SubjectResult]:
    """Return the audit rows of an extraction by subject."""
    return {result.subject: result for result in results}


def requests_to(server: FakeProviderServer, path_suffix: str) -> list[Any]:
    """Return the logged requests whose path ends with `path_suffix`."""
    return [request for request in server.requests if request.path.endswith(path_suffix)]


def build_provider_models(warehouse: Path, target_path: Path, as_of: dt.date) -> str:
    """Run `dbt build` on the provider staging and intermediate models; return dbt's output.

    Raises:
        AssertionError: dbt failed.
    """
    result = run_dbt(
        PROJECT_ROOT,
        [
            "build",
            "--select",
            "staging.openai",
            "staging.anthropic",
            "intermediate.provider",
            # Leave out data tests that also read models of other areas, which are not built.
            "--indirect-selection",
            "cautious",
        ],
        warehouse=warehouse,
        target_path=target_path,
        extra_env={"LLMETER_AS_OF": as_of.isoformat()},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
