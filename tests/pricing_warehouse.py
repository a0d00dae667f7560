"""A scratch copy of the dbt project and a DuckDB file with call logs, for the pricing tests.

The tests copy the project (models, macros, seeds, data tests) into their own folder, so that
they can change a seed without touching the repository, and write call logs into
`raw_call_logs.llm_calls` in the shape the call-log loader gives it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from tests.dbt_helpers import run_dbt

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_FOLDERS = ("models", "macros", "seeds", "data-tests", "snapshots", "analyses")

RAW_CALL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "varchar"),
    ("occurred_at", "timestamptz"),
    ("provider", "varchar"),
    ("model", "varchar"),
    ("customer_id", "varchar"),
    ("input_uncached_tokens", "bigint"),
    ("cache_read_tokens", "bigint"),
    ("cache_write_5m_tokens", "bigint"),
    ("cache_write_1h_tokens", "bigint"),
    ("output_tokens", "bigint"),
    ("reasoning_tokens", "bigint"),
    ("web_search_requests", "bigint"),
    ("request_id", "varchar"),
    ("service_tier", "varchar"),
    ("is_batch", "boolean"),
    ("project_id", "varchar"),
    ("workspace_id", "varchar"),
    ("api_key_id", "varchar"),
    ("tags", "varchar"),
    ("latency_ms", "bigint"),
    ("status", "varchar"),
    ("schema_version", "bigint"),
    ("source_file", "varchar"),
    ("source_line", "bigint"),
    ("loaded_at", "timestamptz"),
)

CALL_DEFAULTS: dict[str, Any] = {
    "input_uncached_tokens": 0,
    "cache_read_tokens": 0,
    "cache_write_5m_tokens": 0,
    "cache_write_1h_tokens": 0,
    "output_tokens": 0,
    "reasoning_tokens": 0,
    "web_search_requests": 0,
    "request_id": None,
    "service_tier": None,
    "is_batch": False,
    "project_id": None,
    "workspace_id": None,
    "api_key_id": None,
    "tags": "{}",
    "latency_ms": None,
    "status": "ok",
    "schema_version": 1,
    "source_file": "calls.ndjson",
    "loaded_at": dt.datetime(2026, 10, 20, tzinfo=dt.UTC),
}


def copy_project(destination: Path) -> Path:
    """Copy the dbt project into `destination` and return it."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT_ROOT / name, destination / name)
    for folder in PROJECT_FOLDERS:
        if (PROJECT_ROOT / folder).is_dir():
            shutil.copytree(PROJECT_ROOT / folder, destination / folder, dirs_exist_ok=True)
    return destination


def create_raw_calls(warehouse: Path) -> None:
    """Create an empty `raw_call_logs.llm_calls` in the loader's shape."""
    columns = ", ".join(f"{name} {column_type}" for name, column_type in RAW_CALL_COLUMNS)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists raw_call_logs")
        connection.execute(f"create or replace table raw_call_logs.llm_calls ({columns})")


def insert_calls(warehouse: Path, calls: Iterable[Mapping[str, Any]]) -> int:
    """Append calls to `raw_call_logs.llm_calls`; missing optional fields take their defaults."""
    names = [name for name, _ in RAW_CALL_COLUMNS]
    records = []
    for line, call in enumerate(calls, start=1):
        record = {**CALL_DEFAULTS, "source_line": line, **call}
        if isinstance(record["tags"], dict):
            record["tags"] = json.dumps(record["tags"])
        records.append([record[name] for name in names])
    placeholders = ", ".join("?" for _ in names)
    with duckdb.connect(str(warehouse)) as connection:
        connection.executemany(
            f"insert into raw_call_logs.llm_calls ({', '.join(names)}) values ({placeholders})",
            records,
        )
    return len(records)


def dbt_build(
    project: Path,
    warehouse: Path,
    selectors: Sequence[str],
    *,
    variables: Mapping[str, str] | None = None,
    extra_arguments: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `dbt build --select ...` on the copied project and fail the test on any error.

    Tests run only when every model they read is selected or upstream of a selected one
    (`--indirect-selection buildable`), so tests of marts outside the selection stay out.
    """
    arguments = [
        "build",
        "--select",
        *selectors,
        "--indirect-selection",
        "buildable",
        *extra_arguments,
    ]
    if variables:
        arguments += ["--vars", json.dumps(dict(variables))]
    result = run_dbt(
        project,
        arguments,
        warehouse=warehouse,
        target_path=project / "target",
        extra_env={"LLMETER_AS_OF": "2026-11-01"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result


def query(warehouse: Path, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run a read-only query on the warehouse and return its rows."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, list(parameters)).fetchall()
