"""fct_focus_llm_costs on hand-made calls and allocations, built by real dbt on DuckDB.

OpenAI prices `model-a` (the calls name it `model-a-2025-01-01`) at $2/M uncached input
tokens, $0.50/M cache reads, $8/M output tokens and $10 per thousand web searches.

2026-10-01 is billed ($6.60, int_costs_allocated):
- customer A (calls a1 and a2, standard tier, project `proj_1`) has 1,000,000 input tokens
  (list $2.00, billed $1.60), 200,000 cache reads ($0.10, $0.08) and 250,000 output tokens
  ($2.00, $1.60). Its 100 web searches ($1.00, $0.80) are billed on a line without a model;
- customer B (call b1, batch tier): `model-x` has no price; billed $1.50 for 3,000,000 input
  tokens and $0.50 for 1,000,000 output tokens;
- unattributed: $0.10 for 50,000 input tokens no call explains, and $0.42 for a charge that is
  neither tokens nor web searches.

2026-10-02 has no billed cost yet: A's call a3 (100,000 input and 50,000 output tokens, list
$0.60) and B's unpriced call b2 are estimates at list price.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.dbt_helpers import run_dbt
from tests.monitoring_warehouse import build, create_project, load_fixtures, query

DAY_1 = dt.date(2026, 10, 1)
DAY_2 = dt.date(2026, 10, 2)
MODEL = "model-a-2025-01-01"
PRICES = {
    "input_uncached": Decimal(2),
    "cache_read": Decimal("0.5"),
    "output": Decimal(8),
    "web_search_request": Decimal(10),
}
QUANTITY_COLUMNS = {
    "input_uncached": "input_uncached_tokens",
    "cache_read": "cache_read_tokens",
    "output": "output_tokens",
    "web_search_request": "web_search_requests",
}


def priced_call(event_id: str, day: dt.date, **quantities: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": dt.datetime.combine(day, dt.time(10)),
        "usage_date": day,
        "provider": "openai",
        "model": MODEL,
        "priced_model": "model-a",
        "customer_id": "A",
        "service_tier": "standard",
        "context_tier": "standard",
        "sub_account_id": "proj_1",
        "requests": 1,
        "is_priced": True,
    }
    total = Decimal(0)
    for component, column in QUANTITY_COLUMNS.items():
        quantity = quantities.get(column, 0)
        scale = Decimal("0.001") if component == "web_search_request" else Decimal("0.000001")
        cost = quantity * PRICES[component] * scale
        row[column] = quantity
        row[f"{component}_price_key"] = f"price-{component}"
        row[f"{component}_price_usd"] = PRICES[component]
        row[f"{component}_cost_usd"] = cost
        total += cost
    row["list_cost_usd"] = total
    return row


def unpriced_call(event_id: str, day: dt.date, **quantities: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": dt.datetime.combine(day, dt.time(11)),
        "usage_date": day,
        "provider": "openai",
        "model": "model-x",
        "customer_id": "B",
        "service_tier": "batch",
        "context_tier": "standard",
        "sub_account_id": "proj_1",
        "requests": 1,
        "is_priced": False,
        "unpriced_reason": "unknown model",
        "list_cost_usd": None,
        **quantities,
    }


CALLS = [
    priced_call(
        "a1",
        DAY_1,
        input_uncached_tokens=600_000,
        output_tokens=150_000,
        web_search_requests=60,
    ),
    priced_call(
        "a2",
        DAY_1,
        input_uncached_tokens=400_000,
        cache_read_tokens=200_000,
        output_tokens=100_000,
        web_search_requests=40,
    ),
    unpriced_call("b1", DAY_1, input_uncached_tokens=3_000_000, output_tokens=1_000_000),
    priced_call("a3", DAY_2, input_uncached_tokens=100_000, output_tokens=50_000),
    unpriced_call("b2", DAY_2, input_uncached_tokens=10_000),
]


def allocation(
    customer_id: str,
    grain_model: str,
    recipient_model: str,
    component: str,
    service_tier: str,
    quantity: int | None,
    allocated: str,
) -> dict[str, Any]:
    return {
        "provider": "openai",
        "usage_date": DAY_1,
        "model": grain_model,
        "price_component": component,
        "service_tier": service_tier,
        "context_tier": "all",
        "sub_account_id": "proj_1",
        "customer_id": customer_id,
        "recipient_model": recipient_model,
        "is_unattributed": customer_id == "(unattributed)",
        "allocation_method": "quantity",
        "quantity": None if quantity is None else Decimal(quantity),
        "allocated_cost_usd": Decimal(allocated),
    }


ALLOCATIONS = [
    allocation("A", MODEL, MODEL, "input_uncached", "standard", 1_000_000, "1.60"),
    allocation("(unattributed)", MODEL, MODEL, "input_uncached", "standard", 50_000, "0.10"),
    allocation("A", MODEL, MODEL, "cache_read", "standard", 200_000, "0.08"),
    allocation("A", MODEL, MODEL, "output", "standard", 250_000, "1.60"),
    allocation("A", "(no model)", MODEL, "web_search_request", "standard", 100, "0.80"),
    allocation("(unattributed)", "(no model)", "(no model)", "other", "standard", None, "0.42"),
    allocation("B", "model-x", "model-x", "input_uncached", "batch", 3_000_000, "1.50"),
    allocation("B", "model-x", "model-x", "output", "batch", 1_000_000, "0.50"),
]


def daily_cost(
    customer_id: str, day: dt.date, model: str, allocated: str | None, list_cost: str | None
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "usage_date": day,
        "provider": "openai",
        "model": model,
        "is_unattributed": customer_id == "(unattributed)",
        "list_cost_usd": None if list_cost is None else Decimal(list_cost),
        "allocated_cost_usd": None if allocated is None else Decimal(allocated),
        "cost_basis": "billed" if day == DAY_1 else "list_estimate",
    }


DAILY_COSTS = [
    daily_cost("A", DAY_1, MODEL, "4.08", "5.10"),
    daily_cost("B", DAY_1, "model-x", "2.00", None),
    daily_cost("(unattributed)", DAY_1, MODEL, "0.10", None),
    daily_cost("(unattributed)", DAY_1, "(no model)", "0.42", None),
    daily_cost("A", DAY_2, MODEL, "0.60", "0.60"),
    daily_cost("B", DAY_2, "model-x", None, None),
]

PROVIDER_COSTS = [
    {
        "provider": "openai",
        "usage_date": DAY_1,
        "model": MODEL,
        "price_component": "input_uncached",
        "service_tier": "standard",
        "context_tier": "standard",
        "sub_account_id": "proj_1",
        "line_item": "model-a, input",
        "billed_cost_usd": Decimal("6.60"),
    }
]

FIXTURES: dict[str, list[dict[str, Any]]] = {
    "fct_llm_calls": CALLS,
    "int_costs_allocated": ALLOCATIONS,
    "fct_customer_daily_costs": DAILY_COSTS,
    "int_provider_costs_daily": PROVIDER_COSTS,
}


@pytest.fixture(scope="module")
def focus_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("focus")
    create_project(project)
    load_fixtures(project / "focus.duckdb", FIXTURES)
    selection = ["+fct_focus_llm_costs", "fct_customer_daily_costs"]
    result = build(project, project / "focus.duckdb", "2026-10-03", selection)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return project


def focus_rows(project: Path, columns: str) -> list[tuple[Any, ...]]:
    return query(
        project / "focus.duckdb",
        f"select {columns} from marts.fct_focus_llm_costs "
        'order by "x_UsageDate", "x_CustomerId", "x_Model", "x_PriceComponent"',
    )


@pytest.mark.slow
def test_billed_day_rows(focus_project: Path) -> None:
    rows = focus_rows(
        focus_project,
        '"x_UsageDate", "x_CustomerId", "x_Model", "x_PriceComponent", "x_ServiceTier", '
        '"BilledCost", "ListCost", "ConsumedQuantity", "x_CostBasis"',
    )
    assert [row for row in rows if row[0] == DAY_1] == [
        (
            DAY_1,
            "(unattributed)",
            "(no model)",
            "other",
            "standard",
            Decimal("0.42"),
            None,
            None,
            "billed",
        ),
        (
            DAY_1,
            "(unattributed)",
            MODEL,
            "input_uncached",
            "standard",
            Decimal("0.10"),
            None,
            Decimal(50_000),
            "billed",
        ),
        (
            DAY_1,
            "A",
            MODEL,
            "cache_read",
            "standard",
            Decimal("0.08"),
            Decimal("0.10"),
            Decimal(200_000),
            "billed",
        ),
        (
            DAY_1,
            "A",
            MODEL,
            "input_uncached",
            "standard",
            Decimal("1.60"),
            Decimal("2.00"),
            Decimal(1_000_000),
            "billed",
        ),
        (
            DAY_1,
            "A",
            MODEL,
            "output",
            "standard",
            Decimal("1.60"),
            Decimal("2.00"),
            Decimal(250_000),
            "billed",
        ),
        (
            DAY_1,
            "A",
            MODEL,
            "web_search_request",
            "standard",
            Decimal("0.80"),
            Decimal("1.00"),
            Decimal(100),
            "billed",
        ),
        (
            DAY_1,
            "B",
            "model-x",
            "input_uncached",
            "batch",
            Decimal("1.50"),
            None,
            Decimal(3_000_000),
            "billed",
        ),
        (
            DAY_1,
            "B",
            "model-x",
            "output",
            "batch",
            Decimal("0.50"),
            None,
            Decimal(1_000_000),
            "billed",
        ),
    ]


@pytest.mark.slow
def test_estimated_day_rows(focus_project: Path) -> None:
    rows = focus_rows(
        focus_project,
        '"x_UsageDate", "x_CustomerId", "x_PriceComponent", "BilledCost", "ListCost", '
        '"ConsumedQuantity", "x_CostBasis"',
    )
    assert [row for row in rows if row[0] == DAY_2] == [
        (
            DAY_2,
            "A",
            "input_uncached",
            Decimal("0.20"),
            Decimal("0.20"),
            Decimal(100_000),
            "list_estimate",
        ),
        (DAY_2, "A", "output", Decimal("0.40"), Decimal("0.40"), Decimal(50_000), "list_estimate"),
        (DAY_2, "B", "input_uncached", Decimal(0), None, Decimal(10_000), "list_estimate"),
    ]


@pytest.mark.slow
def test_billed_cost_sums_to_provider_bill(focus_project: Path) -> None:
    totals = query(
        focus_project / "focus.duckdb",
        'select "x_UsageDate", sum("BilledCost") from marts.fct_focus_llm_costs '
        "group by all order by all",
    )
    assert totals == [(DAY_1, Decimal("6.60")), (DAY_2, Decimal("0.60"))]


@pytest.mark.slow
def test_pricing_columns(focus_project: Path) -> None:
    rows = focus_rows(
        focus_project,
        '"SkuId", "SkuPriceId", "ConsumedUnit", "PricingQuantity", "PricingUnit", '
        '"ListUnitPrice", "SubAccountId"',
    )
    assert rows[2:6] == [
        (
            "openai/model-a/cache_read",
            "price-cache_read",
            "Tokens",
            Decimal("0.2"),
            "1000000 Tokens",
            Decimal("0.5"),
            "proj_1",
        ),
        (
            "openai/model-a/input_uncached",
            "price-input_uncached",
            "Tokens",
            Decimal(1),
            "1000000 Tokens",
            Decimal(2),
            "proj_1",
        ),
        (
            "openai/model-a/output",
            "price-output",
            "Tokens",
            Decimal("0.25"),
            "1000000 Tokens",
            Decimal(8),
            "proj_1",
        ),
        (
            "openai/model-a/web_search_request",
            "price-web_search_request",
            "Requests",
            Decimal("0.1"),
            "1000 Requests",
            Decimal(10),
            "proj_1",
        ),
    ]
    # model-x has no price, so it has no unit price and its SKU keeps the provider's model name.
    assert rows[6] == (
        "openai/model-x/input_uncached",
        None,
        "Tokens",
        Decimal(3),
        "1000000 Tokens",
        None,
        "proj_1",
    )


@pytest.mark.slow
def test_fixed_focus_values(focus_project: Path) -> None:
    rows = query(
        focus_project / "focus.duckdb",
        'select distinct "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", '
        '"BillingPeriodEnd", "ChargeCategory", "ServiceCategory", "ServiceSubcategory", '
        '"ServiceName", "ProviderName", "BillingCurrency" from marts.fct_focus_llm_costs '
        'where "x_UsageDate" = ?',
        [DAY_1],
    )
    assert rows == [
        (
            dt.datetime(2026, 10, 1),
            dt.datetime(2026, 10, 2),
            dt.datetime(2026, 10, 1),
            dt.datetime(2026, 11, 1),
            "Usage",
            "AI and Machine Learning",
            "Generative AI",
            "OpenAI API",
            "OpenAI",
            "USD",
        )
    ]


@pytest.mark.slow
def test_column_names_keep_focus_case(focus_project: Path) -> None:
    names = [
        name
        for (name,) in query(
            focus_project / "focus.duckdb",
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fct_focus_llm_costs' "
            "order by ordinal_position",
        )
    ]
    assert names[:3] == ["BilledCost", "BillingAccountId", "BillingAccountName"]
    assert "x_CustomerId" in names
    assert all(name[0].isupper() or name.startswith("x_") for name in names)


@pytest.mark.slow
def test_billed_cost_check_catches_mismatch(focus_project: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "mismatch.duckdb"
    shutil.copy(focus_project / "focus.duckdb", warehouse)
    load_fixtures(
        warehouse,
        {
            **FIXTURES,
            "int_provider_costs_daily": [{**PROVIDER_COSTS[0], "billed_cost_usd": Decimal("6.70")}],
        },
    )
    result = run_dbt(
        focus_project,
        ["test", "--select", "assert_focus_billed_cost_matches_billed_cost"],
        warehouse=warehouse,
        target_path=tmp_path / "target",
        extra_env={"LLMETER_AS_OF": "2026-10-03"},
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Got 1 result" in result.stdout
