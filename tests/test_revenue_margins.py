"""Revenue and margin marts, built by real dbt from loaded customer files and a cost mart.

The cost mart `marts.fct_customer_daily_costs` is created by hand in its documented shape, so
these tests depend only on its contract. Every expected amount is computed by hand below.
Fee parts come from splitting the fee into integer pico-dollars over the days of the period:
the pico-dollars left over go one each to the first days of the period.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.settings import Settings
from llmeter.steps import RunContext
from pipelines.customers import extract
from tests.dbt_helpers import run_dbt

PROJECT_ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2028-03-11"

REVENUE_MODELS = [
    "stg_customers__customers",
    "stg_customers__subscriptions",
    "int_subscriptions_priced",
    "int_subscription_fees_daily",
    "int_customer_overage_daily",
    "dim_plans",
    "dim_customers",
    "fct_customer_daily_margins",
    "fct_customer_monthly_margins",
]

CUSTOMERS_CSV = """customer_id,customer_name,created_date
upgrader,Upgrader,2026-01-05
canceller,Canceller,2026-01-05
annual,Annual,2026-01-05
leap,Leap,2026-01-05
euro,Euro,2026-01-05
over,Over,2026-01-05
discount,Discount,2026-01-05
negotiated,Negotiated,2026-01-05
"""

SUBSCRIPTIONS_HEADER = (
    "subscription_id,customer_id,plan_id,start_date,end_date,negotiated_fee,discount_pct\n"
)
SUBSCRIPTIONS_CSV = (
    SUBSCRIPTIONS_HEADER
    + """u1,upgrader,starter,2026-03-01,2026-03-15,,
u2,upgrader,growth,2026-03-16,2026-04-30,,
c1,canceller,starter,2026-01-01,2026-04-30,,
a1,annual,growth_annual,2026-03-01,2027-02-28,,
l1,leap,starter,2028-02-01,,,
e1,euro,eur_starter,2026-03-01,2026-04-30,,
o1,over,starter,2026-03-01,2026-03-31,,
d1,discount,growth,2026-03-01,2026-03-31,,10
n1,negotiated,growth,2026-03-01,2026-03-31,250,
"""
)

# customer_id, is_unattributed, usage_date, requests, list_cost_usd, allocated_cost_usd, basis
COSTS: list[tuple[str, bool, str, int, str | None, str | None, str]] = [
    ("over", False, "2026-03-05", 12000, "3.0", "2.5", "billed"),
    ("over", False, "2026-03-10", 12000, "3.0", "2.5", "billed"),
    ("over", False, "2026-03-20", 1000, "0.5", "0.4", "list_estimate"),
    ("upgrader", False, "2026-03-10", 100, "10", "9", "billed"),
    ("upgrader", False, "2026-03-10", 50, "5", "5", "list_estimate"),
    ("upgrader", False, "2026-03-20", 100, "200", "190", "billed"),
    ("ghost", False, "2026-03-21", 7, "0.7", "0.6", "billed"),
    ("(unattributed)", True, "2026-03-21", 0, "0", "1.25", "billed"),
    ("leap", False, "2028-03-05", 10, "3.5", "3.1", "billed"),
    # Calls of a model without a price on a day without a cost report: no cost at all.
    ("ghost", False, "2026-03-22", 3, None, None, "list_estimate"),
]

COST_MART = """
create schema if not exists marts;
create table marts.fct_customer_daily_costs (
    customer_id varchar not null,
    is_unattributed boolean not null,
    usage_date date not null,
    provider varchar not null,
    model varchar not null,
    requests bigint not null,
    input_uncached_tokens bigint not null,
    cache_read_tokens bigint not null,
    cache_write_5m_tokens bigint not null,
    cache_write_1h_tokens bigint not null,
    output_tokens bigint not null,
    reasoning_tokens bigint not null,
    web_search_requests bigint not null,
    unpriced_calls bigint not null,
    list_cost_usd decimal(38, 18),
    allocated_cost_usd decimal(38, 18),
    cost_basis varchar not null,
    is_over_attributed boolean not null,
    unattributed_line_items varchar
);
"""


@pytest.fixture(scope="module")
def margins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to a warehouse with the revenue models built as of AS_OF."""
    root = tmp_path_factory.mktemp("revenue")
    folder = root / "customers"
    folder.mkdir()
    (folder / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    (folder / "subscriptions.csv").write_text(SUBSCRIPTIONS_CSV, encoding="utf-8")
    warehouse = root / "llmeter.duckdb"
    settings = Settings(
        project_root=PROJECT_ROOT,
        warehouse_path=warehouse,
        published_path=root / "published.duckdb",
        memory_limit="1GB",
        as_of_date=dt.date.fromisoformat(AS_OF),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCES__CUSTOMERS__BUCKET_URL", str(folder))
        extract(RunContext(settings=settings, run_id="run-1", command="extract"))

    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(COST_MART)
        for customer_id, is_unattributed, day, requests, list_usd, allocated, basis in COSTS:
            unpriced_calls = requests if allocated is None else 0
            connection.execute(
                "insert into marts.fct_customer_daily_costs values "
                "(?, ?, ?, 'openai', 'gpt-4o', ?, 0, 0, 0, 0, 0, 0, 0, ?, ?, ?, ?, false, null)",
                [
                    customer_id,
                    is_unattributed,
                    day,
                    requests,
                    unpriced_calls,
                    list_usd,
                    allocated,
                    basis,
                ],
            )

    target = root / "target"
    environment = {"LLMETER_AS_OF": AS_OF}
    seeded = run_dbt(
        PROJECT_ROOT,
        ["seed", "--select", "plan_tiers", "fx_rates"],
        warehouse=warehouse,
        target_path=target,
        extra_env=environment,
    )
    assert seeded.returncode == 0, seeded.stdout[-5000:]
    # A EUR plan, which the shipped seed does not have: EUR 45 a month.
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "insert into reference.plan_tiers values "
            "('eur_starter', 'Starter (EUR)', 'monthly', 45, 'EUR', 20000, 2.00)"
        )

    built = run_dbt(
        PROJECT_ROOT,
        ["build", "--select", *REVENUE_MODELS],
        warehouse=warehouse,
        target_path=target,
        extra_env=environment,
    )
    assert built.returncode == 0, built.stdout[-8000:]
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    unit_tests = [result for result in results if result["unique_id"].startswith("unit_test.")]
    assert len(unit_tests) == 4
    assert {result["status"] for result in unit_tests} == {"pass"}

    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def _month(margins: duckdb.DuckDBPyConnection, customer_id: str, month: str) -> dict[str, Any]:
    cursor = margins.execute(
        "select * from marts.fct_customer_monthly_margins "
        "where customer_id = ? and month_start_date = ?",
        [customer_id, month],
    )
    columns = [column[0] for column in cursor.description or []]
    rows = cursor.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(columns, rows[0], strict=True))


def _daily_fees(
    margins: duckdb.DuckDBPyConnection, customer_id: str, first: str, last: str
) -> list[Decimal]:
    rows = margins.execute(
        "select fee_revenue_usd from marts.fct_customer_daily_margins "
        "where customer_id = ? and margin_date between ? and ? order by margin_date",
        [customer_id, first, last],
    ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.slow
def test_revenue_mid_month_upgrade(margins: duckdb.DuckDBPyConnection) -> None:
    month = _month(margins, "upgrader", "2026-03-01")
    # Starter 1-15 March: 49e12 / 31 = 1,580,645,161,290 pico-dollars a day, 10 left over, so
    # 1-10 March get one more: 10 x 1.580645161291 + 5 x 1.580645161290 = 23.70967741936.
    # Growth 16-31 March: 299e12 / 31 = 9,645,161,290,322 a day, 18 left over (1-18 March):
    # 3 x 9.645161290323 + 13 x 9.645161290322 = 154.322580645155.
    assert month["fee_revenue_usd"] == Decimal("178.032258064515")
    assert month["month_end_plan_id"] == "growth"
    # Costs 9 + 5 + 190 = 204; the 10 March list estimate makes the month an estimate.
    assert month["allocated_cost_usd"] == Decimal("204")
    assert month["cost_basis"] == "list_estimate"
    assert month["gross_margin_usd"] == Decimal("-25.967741935485")
    assert month["is_unprofitable"] is True
    # -25.967741935485 / 178.032258064515 = -0.1458597578..., truncated to 6 places of percent.
    assert month["gross_margin_pct"] == Decimal("-14.585975")


@pytest.mark.slow
def test_revenue_daily_margin_pct(margins: duckdb.DuckDBPyConnection) -> None:
    row = margins.execute(
        "select revenue_usd, allocated_cost_usd, gross_margin_usd, gross_margin_pct "
        "from marts.fct_customer_daily_margins "
        "where customer_id = 'upgrader' and margin_date = '2026-03-20'"
    ).fetchone()
    # A Growth day after the 18 left-over pico-dollars: 9.645161290322 against $190 of cost.
    # (9.645161290322 - 190) / 9.645161290322 x 100 = -1869.8996655519..., truncated.
    assert row == (
        Decimal("9.645161290322"),
        Decimal("190"),
        Decimal("-180.354838709678"),
        Decimal("-1869.899665"),
    )


@pytest.mark.slow
def test_revenue_cancellation_last_day(margins: duckdb.DuckDBPyConnection) -> None:
    assert _month(margins, "canceller", "2026-04-01")["revenue_usd"] == Decimal("49")
    row = margins.execute(
        "select max(margin_date), count(*) from marts.fct_customer_daily_margins "
        "where customer_id = 'canceller'"
    ).fetchone()
    # 1 January to 30 April 2026: 31 + 28 + 31 + 30 days.
    assert row == (dt.date(2026, 4, 30), 120)


@pytest.mark.slow
def test_revenue_annual_plan(margins: duckdb.DuckDBPyConnection) -> None:
    fees = _daily_fees(margins, "annual", "2026-03-01", "2027-02-28")
    # 2990e12 / 365 = 8,191,780,821,917 pico-dollars a day and 295 left over.
    assert len(fees) == 365
    assert sum(fees) == Decimal("2990")
    assert fees[294] == Decimal("8.191780821918")
    assert fees[295] == Decimal("8.191780821917")


@pytest.mark.slow
def test_revenue_leap_february(margins: duckdb.DuckDBPyConnection) -> None:
    fees = _daily_fees(margins, "leap", "2028-02-01", "2028-02-29")
    # 49e12 / 29 = 1,689,655,172,413 pico-dollars a day and 23 left over.
    assert len(fees) == 29
    assert sum(fees) == Decimal("49")
    assert fees[:23] == [Decimal("1.689655172414")] * 23
    assert fees[23:] == [Decimal("1.689655172413")] * 6


@pytest.mark.slow
def test_revenue_eur_plan(margins: duckdb.DuckDBPyConnection) -> None:
    # EUR 45 at the seed's illustrative rates: 1.0870 in March 2026, 1.0855 in April 2026.
    assert _month(margins, "euro", "2026-03-01")["revenue_usd"] == Decimal("48.915")
    assert _month(margins, "euro", "2026-04-01")["revenue_usd"] == Decimal("48.8475")


@pytest.mark.slow
def test_revenue_overage(margins: duckdb.DuckDBPyConnection) -> None:
    month = _month(margins, "over", "2026-03-01")
    # 25,000 requests on Starter (20,000 included): 5,000 x $2.00 / 1,000 = $10.00.
    assert month["requests"] == 25000
    assert month["overage_requests"] == 5000
    assert month["overage_revenue_usd"] == Decimal("10")
    assert month["revenue_usd"] == Decimal("59")
    # 5.4 allocated over 25,000 requests: $0.216 per 1,000.
    assert month["allocated_cost_per_1k_requests_usd"] == Decimal("0.216")


@pytest.mark.slow
def test_revenue_discount_and_negotiated(margins: duckdb.DuckDBPyConnection) -> None:
    # Growth $299 less 10% = $269.10; a negotiated fee of $250 replaces the $299.
    assert _month(margins, "discount", "2026-03-01")["revenue_usd"] == Decimal("269.1")
    assert _month(margins, "negotiated", "2026-03-01")["revenue_usd"] == Decimal("250")


@pytest.mark.slow
def test_revenue_unattributed_month(margins: duckdb.DuckDBPyConnection) -> None:
    month = _month(margins, "(unattributed)", "2026-03-01")
    assert month["is_unattributed"] is True
    assert month["allocated_cost_usd"] == Decimal("1.25")
    assert month["revenue_usd"] == Decimal("0")
    assert month["is_unprofitable"] is None
    daily = margins.execute(
        "select count(*) from marts.fct_customer_daily_margins where customer_id = '(unattributed)'"
    ).fetchone()
    assert daily == (0,)


@pytest.mark.slow
def test_revenue_incomplete_month_projection(margins: duckdb.DuckDBPyConnection) -> None:
    month = _month(margins, "leap", "2028-03-01")
    assert month["is_complete_month"] is False
    assert month["days_elapsed"] == 10
    # 1-10 March get the 10 left-over pico-dollars: 10 x 1.580645161291.
    assert month["revenue_usd"] == Decimal("15.80645161291")
    # Cost 3.10 in 10 of 31 days projects to 9.61; the whole month's fee is $49.
    assert month["projected_allocated_cost_usd"] == Decimal("9.61")
    assert month["projected_revenue_usd"] == Decimal("49")
    assert month["projected_gross_margin_usd"] == Decimal("39.39")


@pytest.mark.slow
def test_revenue_unlisted_customer(margins: duckdb.DuckDBPyConnection) -> None:
    customer = margins.execute(
        "select is_listed, customer_name, first_usage_date from marts.dim_customers "
        "where customer_id = 'ghost'"
    ).fetchone()
    assert customer == (False, None, dt.date(2026, 3, 21))
    month = _month(margins, "ghost", "2026-03-01")
    assert month["revenue_usd"] == Decimal("0")
    assert month["gross_margin_usd"] == Decimal("-0.6")
    assert month["unpriced_calls"] == 3
    assert month["cost_basis"] == "list_estimate"


@pytest.mark.slow
def test_revenue_unpriced_day(margins: duckdb.DuckDBPyConnection) -> None:
    row = margins.execute(
        "select requests, unpriced_calls, list_cost_usd, allocated_cost_usd, cost_basis "
        "from marts.fct_customer_daily_margins "
        "where customer_id = 'ghost' and margin_date = '2026-03-22'"
    ).fetchone()
    assert row == (3, 3, Decimal("0"), Decimal("0"), "list_estimate")


@pytest.mark.slow
def test_revenue_has_cost_data(margins: duckdb.DuckDBPyConnection) -> None:
    # The first cost row of the hand-made cost mart is on 2026-03-05.
    rows = margins.execute(
        "select margin_date, has_cost_data from marts.fct_customer_daily_margins "
        "where customer_id = 'over' and margin_date in ('2026-03-04', '2026-03-05') "
        "order by margin_date"
    ).fetchall()
    assert [(str(day), flag) for day, flag in rows] == [
        ("2026-03-04", False),
        ("2026-03-05", True),
    ]

    months = margins.execute(
        "select month_start_date, has_cost_data from marts.fct_customer_monthly_margins "
        "where customer_id = 'canceller' and month_start_date <= '2026-03-01' "
        "order by month_start_date"
    ).fetchall()
    assert [(str(month), flag) for month, flag in months] == [
        ("2026-01-01", False),
        ("2026-02-01", False),
        ("2026-03-01", True),
    ]


@pytest.mark.slow
def test_revenue_current_plan(margins: duckdb.DuckDBPyConnection) -> None:
    rows = margins.execute(
        "select customer_id, current_plan_id, is_active from marts.dim_customers "
        "where customer_id in ('leap', 'canceller') order by customer_id"
    ).fetchall()
    assert rows == [("canceller", None, False), ("leap", "starter", True)]


def test_revenue_models_listed() -> None:
    """Every revenue model is built by the fixture above, so none goes untested."""
    folders = ["staging/customers", "intermediate/revenue", "marts/revenue"]
    names = {
        path.stem for folder in folders for path in (PROJECT_ROOT / "models" / folder).glob("*.sql")
    }
    assert names == set(REVENUE_MODELS)
