"""Scratch dbt projects for the monitoring and FinOps marts, over hand-made upstream tables.

The marts read models that other parts of the project build (fct_llm_calls,
fct_customer_daily_costs, int_costs_allocated, ...). These helpers copy the monitoring and FinOps
models, the macros and the project settings into a scratch project, where each upstream model is
a view over a `fixtures` table. The tests fill those tables with hand-made rows in the shape of
the upstream contracts and build with real dbt, data tests included.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from tests.dbt_helpers import run_dbt

PROJECT_ROOT = Path(__file__).resolve().parents[1]

OWN_FOLDERS = (
    "models/intermediate/monitoring",
    "models/marts/monitoring",
    "models/marts/finops",
    "data-tests/monitoring",
)

# Single models of other folders that the marts read.
OWN_MODELS = ("models/intermediate/allocation/int_call_components_daily.sql",)

TOKEN_COLUMNS = """
    input_uncached_tokens bigint,
    cache_read_tokens bigint,
    cache_write_5m_tokens bigint,
    cache_write_1h_tokens bigint,
    output_tokens bigint,
    reasoning_tokens bigint,
    web_search_requests bigint"""

COMPONENT_PRICE_COLUMNS = "".join(
    f"""
    {component}_price_key varchar,
    {component}_price_usd decimal(38, 12),
    {component}_cost_usd decimal(38, 18),"""
    for component in (
        "input_uncached",
        "cache_read",
        "cache_write_5m",
        "cache_write_1h",
        "output",
        "web_search_request",
    )
)

# Each upstream model: (schema of the stub view, columns of its fixture table).
UPSTREAM_TABLES: dict[str, tuple[str, str]] = {
    "fct_llm_calls": (
        "marts",
        f"""
    event_id varchar,
    occurred_at timestamp,
    usage_date date,
    provider varchar,
    model varchar,
    priced_model varchar,
    model_match varchar,
    customer_id varchar,
    service_tier varchar,
    context_tier varchar,
    sub_account_id varchar,{TOKEN_COLUMNS},
    requests bigint,
    total_input_tokens bigint,{COMPONENT_PRICE_COLUMNS}
    is_priced boolean,
    unpriced_reason varchar,
    list_cost_usd decimal(38, 18),
    priced_at timestamp""",
    ),
    "stg_call_logs__llm_calls": (
        "staging",
        """
    event_id varchar,
    usage_date date,
    tags json""",
    ),
    "fct_customer_daily_costs": (
        "marts",
        f"""
    customer_id varchar,
    usage_date date,
    provider varchar,
    model varchar,
    is_unattributed boolean,
    requests bigint,{TOKEN_COLUMNS},
    unpriced_calls bigint,
    list_cost_usd decimal(38, 18),
    allocated_cost_usd decimal(38, 18),
    cost_basis varchar,
    is_over_attributed boolean,
    unattributed_line_items varchar""",
    ),
    "fct_customer_monthly_margins": (
        "marts",
        """
    customer_id varchar,
    is_unattributed boolean,
    month_start_date date,
    is_complete_month boolean,
    revenue_usd decimal(38, 18),
    allocated_cost_usd decimal(38, 18),
    gross_margin_usd decimal(38, 18),
    is_unprofitable boolean""",
    ),
    "int_costs_allocated": (
        "intermediate",
        """
    provider varchar,
    usage_date date,
    model varchar,
    price_component varchar,
    service_tier varchar,
    context_tier varchar,
    sub_account_id varchar,
    customer_id varchar,
    recipient_model varchar,
    is_unattributed boolean,
    allocation_method varchar,
    billed_cost_usd decimal(38, 18),
    provider_quantity decimal(38, 18),
    customers_quantity decimal(38, 18),
    is_over_attributed boolean,
    line_items varchar,
    quantity decimal(38, 18),
    list_cost_usd decimal(38, 18),
    weight double,
    allocated_cost_usd decimal(38, 18)""",
    ),
    "int_model_prices": (
        "intermediate",
        """
    price_key varchar,
    provider varchar,
    model varchar,
    price_component varchar,
    service_tier varchar,
    tier_threshold_tokens bigint,
    price_usd decimal(38, 12),
    unit varchar,
    unit_scale decimal(38, 12),
    valid_from_at timestamp,
    valid_to_at timestamp,
    price_source varchar,
    price_priority integer""",
    ),
    "int_provider_costs_daily": (
        "intermediate",
        """
    provider varchar,
    usage_date date,
    model varchar,
    price_component varchar,
    service_tier varchar,
    context_tier varchar,
    sub_account_id varchar,
    line_item varchar,
    billed_cost_usd decimal(38, 18),
    quantity decimal(38, 18)""",
    ),
    "int_provider_usage_daily": (
        "intermediate",
        """
    provider varchar,
    usage_date date,
    model varchar,
    price_component varchar,
    service_tier varchar,
    context_tier varchar,
    sub_account_id varchar,
    quantity decimal(38, 18),
    quantity_unit varchar""",
    ),
}

# Stub models that read the fixture table of another: the calls are both priced calls and the
# public fact.
STUB_ALIASES: dict[str, tuple[str, str]] = {
    "int_llm_calls_priced": ("intermediate", "fct_llm_calls"),
}

# Every call counts as priced by one earlier build.
PRICED_AT = dt.datetime(2026, 10, 3, 2, 0)

TOKEN_DEFAULTS = {
    "priced_at": PRICED_AT,
    "input_uncached_tokens": 0,
    "cache_read_tokens": 0,
    "cache_write_5m_tokens": 0,
    "cache_write_1h_tokens": 0,
    "output_tokens": 0,
    "reasoning_tokens": 0,
    "web_search_requests": 0,
}


def create_project(project: Path) -> None:
    """Write a scratch dbt project with the monitoring and FinOps models into `project`."""
    shutil.copy(PROJECT_ROOT / "dbt_project.yml", project / "dbt_project.yml")
    shutil.copy(PROJECT_ROOT / "profiles.yml", project / "profiles.yml")
    shutil.copytree(PROJECT_ROOT / "macros", project / "macros")
    for folder in OWN_FOLDERS:
        shutil.copytree(PROJECT_ROOT / folder, project / folder)
    for model in OWN_MODELS:
        (project / model).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / model, project / model)
    stubs = project / "models" / "upstream"
    stubs.mkdir(parents=True)
    stubbed = {name: (schema, name) for name, (schema, _) in UPSTREAM_TABLES.items()}
    for name, (schema, fixture) in {**stubbed, **STUB_ALIASES}.items():
        (stubs / f"{name}.sql").write_text(
            f"{{{{ config(materialized='view', schema='{schema}') }}}}\n\n"
            f"select * from fixtures.{fixture}\n",
            encoding="utf-8",
        )


def load_fixtures(warehouse: Path, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Create every upstream fixture table in `warehouse` and insert `rows` by table name.

    Token columns left out of a row are 0. Money must be given as `decimal.Decimal`.
    """
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists fixtures")
        for name, (_, columns) in UPSTREAM_TABLES.items():
            connection.execute(f"create or replace table fixtures.{name} ({columns})")
            column_names = [line.split()[0] for line in columns.strip().split(",\n")]
            table_rows = rows.get(name, [])
            if not table_rows:
                continue
            defaults = {key: value for key, value in TOKEN_DEFAULTS.items() if key in column_names}
            values = [
                [{**defaults, **row}.get(column) for column in column_names] for row in table_rows
            ]
            placeholders = ", ".join("?" for _ in column_names)
            connection.executemany(
                f"insert into fixtures.{name} ({', '.join(column_names)}) values ({placeholders})",
                values,
            )


def build(
    project: Path, warehouse: Path, as_of: str, selection: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run `dbt build` on the scratch project with LLMETER_AS_OF = `as_of`.

    With a `selection`, only data tests whose parents are all selected run.
    """
    arguments = ["build"]
    if selection:
        arguments += ["--select", *selection, "--indirect-selection", "cautious"]
    return run_dbt(
        project,
        arguments,
        warehouse=warehouse,
        target_path=project / "target",
        extra_env={"LLMETER_AS_OF": as_of},
    )


def query(warehouse: Path, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Return the rows of `sql` run read-only on `warehouse`."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, list(parameters)).fetchall()
