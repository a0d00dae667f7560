"""Hand-made warehouses for the invoice reconciliation tests.

The upstream models of the reconciliation are built by other parts of the project, so these
helpers create `intermediate.int_provider_costs_daily` and `marts.fct_customer_daily_costs` as
plain tables in the shape of their contracts, fill them with round daily amounts, write
invoice files, load them with the real invoices source and build the reconciliation models with
real dbt.

Every day of a `ProviderDays` has the same amounts, so expected sums are days x amount:
customer `c-1` gets 60% of the billed cost, `c-2` 30% and the unattributed row 10%; the list
cost of the tagged calls is 80% of their allocated cost (the unattributed row has none).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from llmeter.settings import Settings
from llmeter.steps import RunContext
from tests.dbt_helpers import run_dbt

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Selects the reconciliation models and the invoice staging model, but none of the upstream
# models, so the hand-made upstream tables are used as they are.
RECONCILIATION_SELECTION = [
    "reconciliation_tolerances",
    "staging.invoices+",
    "fct_invoice_reconciliation+",
]

CREATE_UPSTREAM_TABLES = """
create schema if not exists intermediate;
create schema if not exists marts;
create table intermediate.int_provider_costs_daily (
    provider varchar,
    usage_date date,
    model varchar,
    price_component varchar,
    service_tier varchar,
    context_tier varchar,
    sub_account_id varchar,
    line_item varchar,
    billed_cost_usd decimal(38, 18),
    quantity decimal(38, 18)
);
create table marts.fct_customer_daily_costs (
    customer_id varchar,
    is_unattributed boolean,
    usage_date date,
    provider varchar,
    model varchar,
    requests bigint,
    input_uncached_tokens bigint,
    cache_read_tokens bigint,
    cache_write_5m_tokens bigint,
    cache_write_1h_tokens bigint,
    output_tokens bigint,
    reasoning_tokens bigint,
    web_search_requests bigint,
    list_cost_usd decimal(38, 18),
    allocated_cost_usd decimal(38, 18),
    cost_basis varchar
);
"""

CUSTOMER_SHARES = (("c-1", False, Decimal("0.6")), ("c-2", False, Decimal("0.3")))
UNATTRIBUTED_SHARE = Decimal("0.1")
LIST_FACTOR = Decimal("0.8")

INVOICE_HEADER = (
    "provider,invoice_id,period_start_date,period_end_date,currency,"
    "usage_subtotal,credits,tax,total"
)


@dataclass(frozen=True)
class ProviderDays:
    """A run of days with the same costs for one provider.

    `missing_cost_dates` have no provider cost rows; their customer rows are list-price
    fallbacks (`cost_basis = 'list_estimate'`), as when the provider's cost data has not arrived.
    """

    provider: str
    first_date: dt.date
    last_date: dt.date
    billed_cost_per_day_usd: Decimal
    missing_cost_dates: frozenset[dt.date] = field(default_factory=frozenset)

    def dates(self) -> list[dt.date]:
        """Every day from `first_date` to `last_date`, both included."""
        count = (self.last_date - self.first_date).days + 1
        return [self.first_date + dt.timedelta(days=offset) for offset in range(count)]


def create_upstream_tables(warehouse: Path) -> None:
    """Create the upstream tables of the reconciliation, empty, in their contract shape."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(CREATE_UPSTREAM_TABLES)


def insert_costs(warehouse: Path, runs: Iterable[ProviderDays]) -> None:
    """Insert the provider cost rows and the customer cost rows of `runs`."""
    provider_rows: list[tuple[object, ...]] = []
    customer_rows: list[tuple[object, ...]] = []
    for run in runs:
        billed = run.billed_cost_per_day_usd
        for day in run.dates():
            has_cost = day not in run.missing_cost_dates
            if has_cost:
                # two line items, so that the reconciliation has to add rows up
                for component, share in (
                    ("input_uncached", Decimal("0.4")),
                    ("output", Decimal("0.6")),
                ):
                    provider_rows.append(
                        (
                            run.provider,
                            day,
                            "model-a",
                            component,
                            "standard",
                            "standard",
                            "(not grouped)",
                            f"model-a, {component}",
                            billed * share,
                            None,
                        )
                    )
            basis = "billed" if has_cost else "list_estimate"
            for customer_id, is_unattributed, share in CUSTOMER_SHARES:
                allocated = billed * share
                customer_rows.append(
                    (
                        customer_id,
                        is_unattributed,
                        day,
                        run.provider,
                        "model-a",
                        10,
                        1000,
                        0,
                        0,
                        0,
                        100,
                        0,
                        0,
                        allocated * LIST_FACTOR,
                        allocated if has_cost else allocated * LIST_FACTOR,
                        basis,
                    )
                )
            if has_cost:
                customer_rows.append(
                    (
                        "(unattributed)",
                        True,
                        day,
                        run.provider,
                        "model-a",
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        Decimal(0),
                        billed * UNATTRIBUTED_SHARE,
                        "billed",
                    )
                )
    with duckdb.connect(str(warehouse)) as connection:
        if provider_rows:
            connection.executemany(
                "insert into intermediate.int_provider_costs_daily values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                provider_rows,
            )
        if customer_rows:
            connection.executemany(
                "insert into marts.fct_customer_daily_costs values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                customer_rows,
            )


def write_invoice_file(path: Path, rows: Sequence[str], *, modified_at: dt.datetime) -> None:
    """Write an invoice totals file with the header and `rows`, and set its modification time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([INVOICE_HEADER, *rows]) + "\n", encoding="utf-8")
    timestamp = modified_at.replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (timestamp, timestamp))


def make_settings(
    root: Path, *, as_of_date: dt.date, project_root: Path = PROJECT_ROOT
) -> Settings:
    """Settings of a test warehouse under `root`."""
    return Settings(
        project_root=project_root,
        warehouse_path=root / "warehouse.duckdb",
        published_path=root / "published" / "llmeter.duckdb",
        memory_limit="1GB",
        as_of_date=as_of_date,
    )


def make_context(settings: Settings, command: str = "run") -> RunContext:
    """A run context for calling one step directly."""
    return RunContext(settings=settings, run_id=f"test-{command}", command=command)


def build_reconciliation(
    settings: Settings, target_path: Path, *, project_dir: Path = PROJECT_ROOT
) -> None:
    """Build the reconciliation models with dbt; raise with dbt's output when it fails."""
    result = run_dbt(
        project_dir,
        ["build", "--select", *RECONCILIATION_SELECTION],
        warehouse=settings.warehouse_path,
        target_path=target_path,
        extra_env={"LLMETER_AS_OF": settings.as_of_date.isoformat()},
    )
    if result.returncode != 0:
        raise AssertionError(f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")


def publish_copy(settings: Settings) -> None:
    """Copy the warehouse file to the published path, as the publish step does for BI."""
    settings.published_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.warehouse_path, settings.published_path)
