"""Builds and nightly runs on a warehouse where some or all sources have never loaded.

dlt creates a raw table only when its source first loads, so staging models read their
sources through `source_or_empty`, which returns an empty relation typed from the sources yml
in place of a missing table. These tests run plain `dbt build` on a new DuckDB file,
`llmeter run` with no source configured, and `llmeter run` with only the OpenAI source, served
by the fake Admin APIs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.demo.fake_apis import FakeProviderServer, ProviderDataStore
from tests.conftest import DemoBuild
from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]

AS_OF = dt.date(2026, 3, 10)
SERVER_NOW = dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)

SOURCE_NAMES = ("openai", "anthropic", "call_logs", "customers", "invoices")

# Marts whose rows come from seeds, not from any source: one row per plan of
# seeds/plan_tiers.csv (free, starter, growth, growth_annual, enterprise).
SEED_ONLY_MART_ROWS = {"dim_plans": 5}

# Settings that would configure a source from the project folder: a developer's own data or
# keys. The runs below need every source unconfigured, except the one a test sets itself.
PROJECT_SOURCE_SETTINGS = (
    PROJECT_ROOT / ".dlt" / "secrets.toml",
    PROJECT_ROOT / "data" / "call_logs",
    PROJECT_ROOT / "data" / "customers",
    PROJECT_ROOT / "data" / "invoices",
)


def mart_names() -> list[str]:
    """Return the name of every mart model of the project."""
    return sorted(path.stem for path in (PROJECT_ROOT / "models" / "marts").rglob("*.sql"))


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    """Run `sql` on a DuckDB file, read-only and in UTC, and return every row."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        return connection.execute(sql).fetchall()


def column_types(warehouse: Path, schema_filter: str) -> dict[tuple[str, str, str], str]:
    """Return the type of every column whose schema matches the SQL `like` pattern."""
    rows = query(
        warehouse,
        "select table_schema, table_name, column_name, data_type "
        f"from information_schema.columns where table_schema like '{schema_filter}'",
    )
    return {(schema, table, column): data_type for schema, table, column, data_type in rows}


def normalize_type(data_type: str) -> str:
    """Spell a SQL type as information_schema does: `decimal(38, 18)` as `DECIMAL(38,18)`."""
    return re.sub(r"\s*,\s*", ",", data_type.strip().upper())


def declared_source_columns(target_path: Path) -> dict[tuple[str, str, str], str | None]:
    """Return the declared `data_type` of every source column in dbt's manifest.

    The keys are (schema, table, column).
    """
    manifest = json.loads((target_path / "manifest.json").read_text(encoding="utf-8"))
    return {
        (source["schema"], source["name"], column["name"]): column.get("data_type")
        for source in manifest["sources"].values()
        for column in source["columns"].values()
    }


def unconfigured_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Return an environment with no source settings, paths in `tmp_path`, plus `settings`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SOURCES__", "LLMETER_", "DBT_"))
        and name not in {"OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY"}
    }
    environment.update(
        {
            "LLMETER_WAREHOUSE": str(tmp_path / "warehouse" / "llmeter.duckdb"),
            "LLMETER_PUBLISHED": str(tmp_path / "published" / "llmeter.duckdb"),
            "LLMETER_AS_OF": AS_OF.isoformat(),
            "LLMETER_MEMORY_LIMIT": "1GB",
            "DBT_TARGET_PATH": str(tmp_path / "target"),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **settings,
        }
    )
    return environment


def skip_if_project_configures_sources() -> None:
    """Skip the test when the project folder itself configures a source."""
    present = [str(path) for path in PROJECT_SOURCE_SETTINGS if path.exists()]
    if present:
        pytest.skip(f"the project folder configures sources: {', '.join(present)}")


def run_llmeter(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `llmeter run` from the project root in a child process and return it finished."""
    return subprocess.run(
        [sys.executable, "-m", "llmeter.cli", "run"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def audit_statuses(warehouse: Path, step: str) -> dict[str, str]:
    """Return the status of each subject that `step` recorded in the latest run's audit."""
    rows = query(
        warehouse,
        f"""
        select subject, status
        from audit.run_audit
        where step = '{step}'
            and run_id = (select max(run_id) from audit.run_audit)
        """,
    )
    return dict(rows)


def source_status(extract_statuses: dict[str, str], source: str) -> str:
    """Return a source's extract status: its own row, or the statuses of its tables' rows."""
    if source in extract_statuses:
        return extract_statuses[source]
    statuses = {
        status for subject, status in extract_statuses.items() if subject.startswith(f"{source}.")
    }
    return statuses.pop() if len(statuses) == 1 else f"mixed or missing: {sorted(statuses)}"


@dataclass(frozen=True)
class EmptyBuild:
    """A `dbt build` on a new DuckDB file: its warehouse, its target folder and its output."""

    warehouse: Path
    target_path: Path
    returncode: int
    output: str


@pytest.fixture(scope="module")
def empty_build(tmp_path_factory: pytest.TempPathFactory) -> EmptyBuild:
    """Plain `dbt build` on a DuckDB file that no source ever loaded, run once per module."""
    root = tmp_path_factory.mktemp("empty_build")
    warehouse = root / "llmeter.duckdb"
    result = run_dbt(
        PROJECT_ROOT,
        ["build"],
        warehouse=warehouse,
        target_path=root / "target",
        extra_env={"LLMETER_AS_OF": AS_OF.isoformat()},
    )
    return EmptyBuild(warehouse, root / "target", result.returncode, result.stdout + result.stderr)


def test_every_declared_source_column_typed(empty_build: EmptyBuild) -> None:
    declared = declared_source_columns(empty_build.target_path)
    untyped = [key for key, data_type in declared.items() if not data_type]

    assert declared, "no source columns declared"
    assert untyped == []


def test_declared_types_match_loaded_tables(empty_build: EmptyBuild, demo_build: DemoBuild) -> None:
    declared = declared_source_columns(empty_build.target_path)
    loaded = column_types(demo_build.warehouse, "raw_%")

    missing = sorted(key for key in declared if key not in loaded)
    differing = {
        key: (data_type, loaded[key])
        for key, data_type in declared.items()
        if key in loaded and normalize_type(data_type or "") != loaded[key]
    }

    assert missing == []
    assert differing == {}


def test_dbt_build_succeeds_without_raw_tables(empty_build: EmptyBuild) -> None:
    assert empty_build.returncode == 0, empty_build.output[-6000:]


def test_build_creates_no_raw_schema(empty_build: EmptyBuild) -> None:
    schemas = query(
        empty_build.warehouse,
        "select schema_name from information_schema.schemata where schema_name like 'raw%'",
    )

    assert schemas == []


def test_every_mart_built_and_empty(empty_build: EmptyBuild) -> None:
    tables = {
        name
        for (name,) in query(
            empty_build.warehouse,
            "select table_name from information_schema.tables where table_schema = 'marts'",
        )
    }

    for mart in mart_names():
        assert mart in tables, f"mart {mart} was not built"
        (rows,) = query(empty_build.warehouse, f"select count(*) from marts.{mart}")[0]
        assert rows == SEED_ONLY_MART_ROWS.get(mart, 0), mart


def test_staging_lineage_keeps_sources(empty_build: EmptyBuild) -> None:
    manifest = json.loads((empty_build.target_path / "manifest.json").read_text(encoding="utf-8"))
    staging_models = {
        node["name"]: node["depends_on"]["nodes"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"].startswith("stg_")
    }

    assert len(staging_models) == len(list((PROJECT_ROOT / "models" / "staging").rglob("*.sql")))
    for name, parents in staging_models.items():
        sources = [parent for parent in parents if parent.startswith("source.llmeter.")]
        assert len(sources) == 1, (name, parents)


def test_staging_types_same_as_after_load(empty_build: EmptyBuild, demo_build: DemoBuild) -> None:
    empty = column_types(empty_build.warehouse, "staging")
    loaded = column_types(demo_build.warehouse, "staging")

    assert set(empty) == set(loaded)
    assert {key: value for key, value in empty.items() if loaded[key] != value} == {}


def create_projects_table(warehouse: Path, columns: str) -> None:
    """Create `raw_openai.projects` with `columns` and one project `proj_a`, as a load would."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema raw_openai")
        connection.execute(f"create table raw_openai.projects ({columns})")
        connection.execute(
            "insert into raw_openai.projects (id, name) values ('proj_a', 'Checkout')"
        )


def test_existing_table_read_as_is(tmp_path: Path) -> None:
    warehouse = tmp_path / "llmeter.duckdb"
    create_projects_table(
        warehouse,
        "extracted_at timestamptz, id varchar, name varchar, status varchar, "
        "created_at timestamptz, archived_at timestamptz",
    )

    result = run_dbt(
        PROJECT_ROOT,
        ["run", "--select", "stg_openai__projects"],
        warehouse=warehouse,
        target_path=tmp_path / "target",
    )

    assert result.returncode == 0, result.stdout[-6000:]
    projects = query(warehouse, "select project_id, project_name from staging.stg_openai__projects")
    assert projects == [("proj_a", "Checkout")]


def test_existing_table_missing_column_fails(tmp_path: Path) -> None:
    warehouse = tmp_path / "llmeter.duckdb"
    # `status` is declared in the sources yml and read by the staging model, but missing here.
    create_projects_table(
        warehouse,
        "extracted_at timestamptz, id varchar, name varchar, "
        "created_at timestamptz, archived_at timestamptz",
    )

    result = run_dbt(
        PROJECT_ROOT,
        ["run", "--select", "stg_openai__projects"],
        warehouse=warehouse,
        target_path=tmp_path / "target",
    )

    assert result.returncode == 1
    assert 'column "status"' in result.stdout, result.stdout[-6000:]


def test_run_without_sources_succeeds(tmp_path: Path) -> None:
    skip_if_project_configures_sources()
    environment = unconfigured_environment(
        tmp_path, SOURCES__CALL_LOGS__BUCKET_URL=str(tmp_path / "no_spool_folder")
    )
    warehouse = Path(environment["LLMETER_WAREHOUSE"])
    published = Path(environment["LLMETER_PUBLISHED"])

    result = run_llmeter(environment)

    assert result.returncode == 0, result.stderr[-6000:]
    steps = dict(query(warehouse, "select step, status from audit.run_audit where subject = ''"))
    assert steps == {
        "run": "succeeded",
        "extract": "succeeded",
        "build": "succeeded",
        "publish": "succeeded",
        "check": "succeeded",
    }
    extract = audit_statuses(warehouse, "extract")
    for source in SOURCE_NAMES:
        assert extract[source] == "skipped", source
    checks = {
        subject: status
        for subject, status in audit_statuses(warehouse, "check").items()
        if subject.startswith("gx:")
    }
    assert checks, "the check step validated no mart"
    for subject, status in checks.items():
        assert status == "succeeded", subject
    for mart in mart_names():
        (rows,) = query(published, f"select count(*) from marts.{mart}")[0]
        assert rows == SEED_ONLY_MART_ROWS.get(mart, 0), mart


def completions(day: str, model: str, input_tokens: int) -> dict[str, Any]:
    """Return a completions usage record of the fake store: uncached input, no output."""
    return {
        "date": day,
        "endpoint": "completions",
        "project_id": "proj_a",
        "api_key_id": "key_a",
        "model": model,
        "batch": False,
        "service_tier": "default",
        "input_tokens": input_tokens,
        "input_uncached_tokens": input_tokens,
        "output_tokens": 0,
        "num_model_requests": 1,
    }


def cost(day: str, line_item: str, amount_usd: str) -> dict[str, Any]:
    """Return a cost record of the fake store."""
    return {
        "date": day,
        "line_item": line_item,
        "project_id": "proj_a",
        "api_key_id": "key_a",
        "amount_usd": amount_usd,
    }


@pytest.fixture
def openai_server() -> Iterator[FakeProviderServer]:
    """The fake OpenAI Admin API with two days of gpt-4.1-mini and gpt-4.1 input."""
    store = ProviderDataStore(
        openai_usage=[
            completions("2026-03-07", "gpt-4.1-mini", 1_000_000),
            completions("2026-03-08", "gpt-4.1", 2_000_000),
        ],
        # The input prices of seeds/model_prices.csv: $0.40 (gpt-4.1-mini) and $2 (gpt-4.1) per
        # million tokens.
        openai_costs=[
            cost("2026-03-07", "gpt-4.1-mini, input", "0.4"),
            cost("2026-03-08", "gpt-4.1, input", "4.0"),
        ],
        openai_projects=[
            {
                "id": "proj_a",
                "object": "organization.project",
                "name": "Checkout",
                "created_at": 1_735_689_600,
                "archived_at": None,
                "status": "active",
            }
        ],
    )
    with FakeProviderServer(store, now=SERVER_NOW) as server:
        yield server


def test_run_with_only_openai(tmp_path: Path, openai_server: FakeProviderServer) -> None:
    skip_if_project_configures_sources()
    environment = unconfigured_environment(
        tmp_path,
        SOURCES__OPENAI__ADMIN_KEY=openai_server.admin_keys["openai"],
        SOURCES__OPENAI__BASE_URL=openai_server.openai_base_url,
        SOURCES__OPENAI__BACKFILL_DAYS="10",
        SOURCES__OPENAI__RETRY_BACKOFF_SECONDS="0.01",
        SOURCES__CALL_LOGS__BUCKET_URL=str(tmp_path / "no_spool_folder"),
    )
    warehouse = Path(environment["LLMETER_WAREHOUSE"])

    result = run_llmeter(environment)

    assert result.returncode == 0, result.stderr[-6000:]
    (run_status,) = query(
        warehouse, "select status from audit.run_audit where step = 'run' and subject = ''"
    )[0]
    assert run_status == "succeeded"
    extract = audit_statuses(warehouse, "extract")
    assert source_status(extract, "openai") == "succeeded"
    for source in ("anthropic", "call_logs", "customers", "invoices"):
        assert extract[source] == "skipped", source
    costs = query(
        warehouse,
        """
        select provider, usage_date, model, price_component, billed_cost_usd
        from intermediate.int_provider_costs_daily
        order by usage_date
        """,
    )
    assert costs == [
        ("openai", dt.date(2026, 3, 7), "gpt-4.1-mini", "input_uncached", Decimal("0.4")),
        ("openai", dt.date(2026, 3, 8), "gpt-4.1", "input_uncached", Decimal("4.0")),
    ]
    providers = query(
        warehouse, "select distinct provider from intermediate.int_provider_usage_daily"
    )
    assert providers == [("openai",)]
