"""Allocation of billed cost to customers, over a small hand-made company.

The call logs go into `raw_call_logs.llm_calls`. The provider's usage and billed cost are
written straight into `intermediate.int_provider_usage_daily` and
`intermediate.int_provider_costs_daily` in their documented shape, so the provider models
themselves are not selected. dbt builds pricing, allocation and the cost marts on top.

The numbers, with list prices of genai-prices 0.2.3:
- OpenAI 2026-10-01, gpt-4.1-mini-2025-04-14 ($0.40 input, $1.60 output per million),
  project proj_1: acme 1,000 input + 100 output tokens, beta 500 + 50; the provider reports
  2,000 input and 200 output tokens billed $0.0008 and $0.00032. acme gets 1,000/2,000 of the
  input and 100/200 of the output: $0.0004 + $0.00016 = $0.00056; beta $0.00028; the remainder
  $0.00028.
- OpenAI 2026-10-01, gpt-5.4-2026-03-05 output: three customers of 100 tokens each, the
  provider reports 300 tokens billed $0.10. The parts are $0.033333333334, $0.033333333333
  and $0.033333333333.
- OpenAI 2026-10-01, vector storage ($0.10, no model): the remainder takes it whole.
- Anthropic 2026-10-01, claude-sonnet-4-5-20250929 input, workspace wrkspc_1: acme's calls
  have 1,200 tokens, the provider reports 1,000 billed $0.003. Over-attributed: acme carries
  all $0.003, the remainder $0, and the grain is flagged.
- Anthropic 2026-10-02: acme's calls (10,000 input tokens, $0.03 at list price) and no cost
  report yet: list_estimate. The report then arrives ($0.027 for 10,000 tokens) and the
  rebuild turns the day into billed.
- Google 2026-10-01: no cost source, list_estimate.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.pricing_warehouse import (
    copy_project,
    create_raw_calls,
    dbt_build,
    insert_calls,
    query,
)

pytestmark = pytest.mark.slow

SELECT = [
    "+int_llm_calls_priced",
    "int_call_components_daily",
    "int_allocation_grains",
    "int_allocation_recipients",
    "int_costs_allocated",
    "fct_customer_daily_costs",
    "fct_llm_calls",
    "fct_unpriced_usage",
]

USAGE_COLUMNS = (
    "provider varchar, usage_date date, model varchar, price_component varchar, "
    "service_tier varchar, context_tier varchar, sub_account_id varchar, "
    "quantity decimal(38, 18), quantity_unit varchar"
)
COST_COLUMNS = (
    "provider varchar, usage_date date, model varchar, price_component varchar, "
    "service_tier varchar, context_tier varchar, sub_account_id varchar, line_item varchar, "
    "is_line_item_parsed boolean, billed_cost_usd decimal(38, 18), quantity decimal(38, 18), "
    "quantity_unit varchar"
)


def _call(
    event_id: str, provider: str, model: str, customer: str, day: str, **fields: Any
) -> dict[str, Any]:
    sub_account = {"openai": {"project_id": "proj_1"}, "anthropic": {"workspace_id": "wrkspc_1"}}
    return {
        "event_id": event_id,
        "occurred_at": dt.datetime.fromisoformat(f"{day}T12:00:00+00:00"),
        "provider": provider,
        "model": model,
        "customer_id": customer,
        "service_tier": "default" if provider == "openai" else "standard",
        **sub_account.get(provider, {}),
        **fields,
    }


CALLS = [
    _call(
        "o1",
        "openai",
        "gpt-4.1-mini-2025-04-14",
        "acme",
        "2026-10-01",
        input_uncached_tokens=1000,
        output_tokens=100,
    ),
    _call(
        "o2",
        "openai",
        "gpt-4.1-mini-2025-04-14",
        "beta",
        "2026-10-01",
        input_uncached_tokens=500,
        output_tokens=50,
    ),
    _call("t1", "openai", "gpt-5.4-2026-03-05", "acme", "2026-10-01", output_tokens=100),
    _call("t2", "openai", "gpt-5.4-2026-03-05", "beta", "2026-10-01", output_tokens=100),
    _call("t3", "openai", "gpt-5.4-2026-03-05", "gamma", "2026-10-01", output_tokens=100),
    _call(
        "a1",
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "acme",
        "2026-10-01",
        input_uncached_tokens=1200,
    ),
    _call(
        "a2",
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "acme",
        "2026-10-02",
        input_uncached_tokens=10000,
    ),
    _call(
        "g1", "google", "gemini-2.5-flash", "beta", "2026-10-01", input_uncached_tokens=1_000_000
    ),
]

USAGE = [
    ("openai", "2026-10-01", "gpt-4.1-mini-2025-04-14", "input_uncached", "proj_1", 2000),
    ("openai", "2026-10-01", "gpt-4.1-mini-2025-04-14", "output", "proj_1", 200),
    ("openai", "2026-10-01", "gpt-5.4-2026-03-05", "output", "proj_1", 300),
    ("anthropic", "2026-10-01", "claude-sonnet-4-5-20250929", "input_uncached", "wrkspc_1", 1000),
    ("anthropic", "2026-10-02", "claude-sonnet-4-5-20250929", "input_uncached", "wrkspc_1", 10000),
]

COSTS = [
    (
        "openai",
        "2026-10-01",
        "gpt-4.1-mini-2025-04-14",
        "input_uncached",
        "proj_1",
        "gpt-4.1-mini-2025-04-14, input",
        "0.0008",
        2000,
        "tokens",
    ),
    (
        "openai",
        "2026-10-01",
        "gpt-4.1-mini-2025-04-14",
        "output",
        "proj_1",
        "gpt-4.1-mini-2025-04-14, output",
        "0.00032",
        200,
        "tokens",
    ),
    (
        "openai",
        "2026-10-01",
        "gpt-5.4-2026-03-05",
        "output",
        "proj_1",
        "gpt-5.4-2026-03-05, output",
        "0.10",
        300,
        "tokens",
    ),
    ("openai", "2026-10-01", "(no model)", "other", "proj_1", "Vector storage", "0.10", None, None),
    (
        "anthropic",
        "2026-10-01",
        "claude-sonnet-4-5-20250929",
        "input_uncached",
        "wrkspc_1",
        "Claude Sonnet 4.5 Usage - Input Tokens",
        "0.003",
        None,
        None,
    ),
]

LATE_COST = (
    "anthropic",
    "2026-10-02",
    "claude-sonnet-4-5-20250929",
    "input_uncached",
    "wrkspc_1",
    "Claude Sonnet 4.5 Usage - Input Tokens",
    "0.027",
    None,
    None,
)


def _write_provider_tables(warehouse: Path, costs: list[tuple[Any, ...]]) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists intermediate")
        connection.execute(
            f"create or replace table intermediate.int_provider_usage_daily ({USAGE_COLUMNS})"
        )
        connection.execute(
            f"create or replace table intermediate.int_provider_costs_daily ({COST_COLUMNS})"
        )
        connection.executemany(
            "insert into intermediate.int_provider_usage_daily values "
            "(?, ?, ?, ?, 'standard', 'standard', ?, ?, 'tokens')",
            USAGE,
        )
        connection.executemany(
            "insert into intermediate.int_provider_costs_daily values "
            "(?, ?, ?, ?, 'standard', 'standard', ?, ?, true, ?, ?, ?)",
            costs,
        )


def _daily_costs(warehouse: Path) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    rows = query(
        warehouse,
        "select provider, cast(usage_date as varchar), model, customer_id, allocated_cost_usd, "
        "list_cost_usd, cost_basis, is_unattributed, is_over_attributed, "
        "unattributed_line_items, input_uncached_tokens "
        "from marts.fct_customer_daily_costs",
    )
    return {row[:4]: row[4:] for row in rows}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """fct_customer_daily_costs before and after Anthropic's late cost report, and the dbt log."""
    root = tmp_path_factory.mktemp("allocation")
    project = copy_project(root / "project")
    warehouse = root / "allocation.duckdb"
    create_raw_calls(warehouse)
    insert_calls(warehouse, CALLS)
    _write_provider_tables(warehouse, COSTS)

    first = dbt_build(project, warehouse, SELECT)
    before = _daily_costs(warehouse)
    billed_sums = query(
        warehouse,
        "select provider, cast(usage_date as varchar), sum(allocated_cost_usd) "
        "from marts.fct_customer_daily_costs where cost_basis = 'billed' group by 1, 2",
    )

    _write_provider_tables(warehouse, [*COSTS, LATE_COST])
    dbt_build(project, warehouse, SELECT)
    return {
        "before": before,
        "after": _daily_costs(warehouse),
        "billed_sums": {(provider, day): total for provider, day, total in billed_sums},
        "log": first.stdout,
    }


def test_billed_days_add_up_to_the_bill_exactly(builds: dict[str, Any]) -> None:
    sums = builds["billed_sums"]

    assert sums[("openai", "2026-10-01")] == Decimal("0.0008") + Decimal("0.00032") + Decimal(
        "0.10"
    ) + Decimal("0.10")
    assert sums[("anthropic", "2026-10-01")] == Decimal("0.003")
    assert set(sums) == {("openai", "2026-10-01"), ("anthropic", "2026-10-01")}


def test_customer_share_by_quantity(builds: dict[str, Any]) -> None:
    costs = builds["before"]
    model = "gpt-4.1-mini-2025-04-14"

    assert costs[("openai", "2026-10-01", model, "acme")][0] == Decimal("0.00056")
    assert costs[("openai", "2026-10-01", model, "beta")][0] == Decimal("0.00028")
    assert costs[("openai", "2026-10-01", model, "(unattributed)")][0] == Decimal("0.00028")
    assert costs[("openai", "2026-10-01", model, "(unattributed)")][6] == 500


def test_uneven_split_assigns_the_leftover_pico_dollar(builds: dict[str, Any]) -> None:
    costs = builds["before"]
    parts = {
        customer: costs[("openai", "2026-10-01", "gpt-5.4-2026-03-05", customer)][0]
        for customer in ("acme", "beta", "gamma", "(unattributed)")
    }

    assert parts == {
        "acme": Decimal("0.033333333334"),
        "beta": Decimal("0.033333333333"),
        "gamma": Decimal("0.033333333333"),
        "(unattributed)": Decimal("0"),
    }
    assert sum(parts.values()) == Decimal("0.10")


def test_charge_without_usage_goes_to_remainder(builds: dict[str, Any]) -> None:
    row = builds["before"][("openai", "2026-10-01", "(no model)", "(unattributed)")]

    assert row[0] == Decimal("0.10")
    assert row[2:5] == ("billed", True, False)
    assert row[5] == "Vector storage"


def test_over_attribution_is_capped_and_flagged(builds: dict[str, Any]) -> None:
    costs = builds["before"]
    model = "claude-sonnet-4-5-20250929"
    acme = costs[("anthropic", "2026-10-01", model, "acme")]
    remainder = costs[("anthropic", "2026-10-01", model, "(unattributed)")]

    assert acme[0] == Decimal("0.003")
    assert acme[4] is True
    assert remainder[0] == Decimal("0")
    assert remainder[6] == 0
    assert "warn_over_attributed_grains" in builds["log"]


def test_list_estimate_without_billed_cost(builds: dict[str, Any]) -> None:
    costs = builds["before"]
    anthropic = costs[("anthropic", "2026-10-02", "claude-sonnet-4-5-20250929", "acme")]
    google = costs[("google", "2026-10-01", "gemini-2.5-flash", "beta")]

    # 10,000 input tokens at $3 per million; 1,000,000 at $0.30 per million.
    assert anthropic[:3] == (Decimal("0.03"), Decimal("0.03"), "list_estimate")
    assert google[:3] == (Decimal("0.3"), Decimal("0.3"), "list_estimate")
    assert ("anthropic", "2026-10-02", "claude-sonnet-4-5-20250929", "(unattributed)") not in costs


def test_late_cost_report_replaces_the_estimate(builds: dict[str, Any]) -> None:
    after = builds["after"][("anthropic", "2026-10-02", "claude-sonnet-4-5-20250929", "acme")]

    assert after[:3] == (Decimal("0.027"), Decimal("0.03"), "billed")


def test_no_negative_part_and_no_customer_without_calls(builds: dict[str, Any]) -> None:
    costs = builds["before"]
    customers = {customer for (_, _, _, customer) in costs}

    assert all(row[0] is None or row[0] >= 0 for row in costs.values())
    assert customers == {"acme", "beta", "gamma", "(unattributed)"}
