"""`llmeter demo`: generate the demo company, serve its provider APIs and run the nightly job.

The job runs in this process against the fake Admin APIs on 127.0.0.1, with the environment
of the sources pointed at the generated folder. The environment is restored afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from llmeter import warehouse
from llmeter.demo.company import DemoOptions
from llmeter.demo.simulator import DemoSummary, generate_demo
from llmeter.settings import Settings, find_project_root, load_settings
from llmeter.steps import STEPS, RunContext, new_run_id, run_steps

if TYPE_CHECKING:
    from llmeter.demo.fake_apis import FakeProviderServer

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
LEAST_PROFITABLE_COUNT = 5


def run_demo(arguments: argparse.Namespace) -> int:
    """Run `llmeter demo` and return its exit code: 0 on success, 1 when the run failed."""
    options = DemoOptions(
        customers=arguments.customers,
        days=arguments.days,
        calls_per_day=arguments.calls_per_day,
        as_of=arguments.as_of,
        seed=arguments.seed,
    )
    options.validate()
    root = find_project_root()
    output = Path(arguments.output).expanduser()
    if not output.is_absolute():
        output = root / output

    summary = generate_demo(options, output)
    _print_generation(summary)
    if arguments.generate_only:
        return EXIT_OK

    # Imported here: the fake servers are only needed for a run.
    from llmeter.demo.fake_apis import FakeProviderServer

    now = dt.datetime.combine(options.as_of, dt.time(), tzinfo=dt.UTC)
    try:
        server = FakeProviderServer.from_demo_folder(output, now=now)
    except OSError as error:
        logger.error("Could not start the fake provider APIs on 127.0.0.1: %s", error)
        return EXIT_FAILED
    with server, _environment(source_environment(output, server, options)):
        settings = load_settings(root)
        context = RunContext(settings=settings, run_id=new_run_id(), command="demo")
        print(f"Running the nightly job {context.run_id} on {settings.warehouse_path}")
        succeeded = run_steps(context, STEPS)

    _print_warehouse(settings, options.as_of)
    if not succeeded:
        print("The demo run failed; run_audit and the log above name the failed step.")
        return EXIT_FAILED
    print("The demo run succeeded.")
    return EXIT_OK


def source_environment(
    output: Path, server: FakeProviderServer, options: DemoOptions
) -> dict[str, str]:
    """Return the settings that point every source at the demo folder and the fake Admin APIs."""
    return {
        "SOURCES__OPENAI__ADMIN_KEY": server.admin_keys["openai"],
        "SOURCES__OPENAI__BASE_URL": server.openai_base_url,
        "SOURCES__ANTHROPIC__ADMIN_KEY": server.admin_keys["anthropic"],
        "SOURCES__ANTHROPIC__BASE_URL": server.anthropic_base_url,
        "SOURCES__CALL_LOGS__BUCKET_URL": str(output / "call_logs"),
        "SOURCES__CUSTOMERS__BUCKET_URL": str(output / "customers"),
        "SOURCES__INVOICES__BUCKET_URL": str(output / "invoices"),
        "SOURCES__OPENAI__BACKFILL_DAYS": str(options.days),
        "SOURCES__ANTHROPIC__BACKFILL_DAYS": str(options.days),
        "LLMETER_AS_OF": options.as_of.isoformat(),
    }


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a `with` block, then restore them."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _print_generation(summary: DemoSummary) -> None:
    print(f"Demo company written to {summary.output}")
    print(f"  period: {summary.first_day} to {summary.last_day} (UTC days)")
    print(f"  customers: {summary.customers}, subscriptions: {summary.subscriptions}")
    print(
        f"  calls: {summary.calls_tagged} tagged in call logs, {summary.calls_untagged} untagged "
        f"(provider view only), {summary.late_records} late records"
    )
    print(f"  invoices: {summary.invoices}")


def last_complete_month(as_of: dt.date) -> dt.date:
    """Return the first day of the last calendar month that ended before `as_of`."""
    return (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def _print_warehouse(settings: Settings, as_of: dt.date) -> None:
    """Print rows per public mart, the least profitable customers and the reconciliation.

    Everything is read from the published file, the copy a BI tool reads.
    """
    path = settings.published_path
    if not path.is_file():
        print(f"No published file at {path}")
        return
    print(f"From the published file {path}:")
    with warehouse.connection(
        path, memory_limit=settings.memory_limit, read_only=True
    ) as connection:
        tables = _columns_by_table(connection)
        print("Rows per table:")
        for schema, table in sorted(tables):
            if schema == "marts" or (schema, table) == ("audit", "run_audit"):
                count = connection.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
                print(f"  {schema}.{table}: {count[0] if count else 0}")

        margins = tables.get(("marts", "fct_customer_monthly_margins"))
        if margins is not None:
            has_anomalies = ("marts", "fct_cost_anomalies") in tables
            _print_least_profitable(connection, last_complete_month(as_of), has_anomalies)
        reconciliation = tables.get(("marts", "fct_invoice_reconciliation"))
        if reconciliation is not None:
            _print_reconciliation(connection, reconciliation)


def _columns_by_table(
    connection: duckdb.DuckDBPyConnection,
) -> dict[tuple[str, str], dict[str, str]]:
    """Return the column names and types of every table and view, by (schema, table)."""
    rows = connection.execute(
        "select table_schema, table_name, column_name, data_type "
        "from information_schema.columns where table_catalog = current_database() "
        "order by table_schema, table_name, ordinal_position"
    ).fetchall()
    tables: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in rows:
        tables.setdefault((schema, table), {})[column] = data_type
    return tables


LEAST_PROFITABLE_SQL = """
select customer_id, revenue_usd, allocated_cost_usd, gross_margin_usd
from marts.fct_customer_monthly_margins
where month_start_date = ? and not is_unattributed
order by gross_margin_usd, customer_id
limit ?
"""

# The customer's anomalies of that month, e.g. "cost_spike 2026-10-01 (model_mix)".
ANOMALIES_SQL = """
select string_agg(
    anomaly_type || ' ' || cast(anomaly_date as varchar) || ' (' || main_driver || ')',
    ', ' order by anomaly_date, anomaly_type
)
from marts.fct_cost_anomalies
where subject_type = 'customer' and subject_id = ? and anomaly_date between ? and ?
"""


def _print_least_profitable(
    connection: duckdb.DuckDBPyConnection, month: dt.date, has_anomalies: bool
) -> None:
    rows = connection.execute(LEAST_PROFITABLE_SQL, [month, LEAST_PROFITABLE_COUNT]).fetchall()
    month_end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    print(f"Least profitable customers in {month:%Y-%m}, and why their cost rose:")
    header = ("customer_id", "revenue_usd", "allocated_cost_usd", "gross_margin_usd", "anomalies")
    print(f"  {header[0]:<16} {header[1]:>12} {header[2]:>19} {header[3]:>17}  {header[4]}")
    for customer_id, revenue, cost, margin in rows:
        reasons = None
        if has_anomalies:
            found = connection.execute(ANOMALIES_SQL, [customer_id, month, month_end]).fetchone()
            reasons = found[0] if found else None
        print(
            f"  {customer_id:<16} {_money(revenue):>12} {_money(cost):>19} {_money(margin):>17}"
            f"  {reasons or 'no cost anomaly'}"
        )
    if not rows:
        print("  (no rows)")


def _money(value: Decimal | None) -> str:
    return "null" if value is None else f"{value:.2f}"


def _print_reconciliation(
    connection: duckdb.DuckDBPyConnection, columns: Mapping[str, str]
) -> None:
    wanted = ("provider", "period_start_date", "period_end_date", "status")
    if any(name not in columns for name in wanted):
        print("marts.fct_invoice_reconciliation lacks the columns of the summary; skipped")
        return
    has_difference = "billed_difference_usd" in columns
    difference = "billed_difference_usd" if has_difference else "null"
    rows = connection.execute(
        f"select {', '.join(wanted)}, {difference} from marts.fct_invoice_reconciliation "
        "order by provider, period_start_date"
    ).fetchall()
    print("Invoice reconciliation (invoice usage subtotal against provider-billed cost):")
    for provider, start, end, status, billed_difference in rows:
        detail = "" if billed_difference is None else f"  difference {_money(billed_difference)}"
        print(f"  {provider:<10} {start} to {end}  {status}{detail}")
    if not rows:
        print("  (no rows)")
