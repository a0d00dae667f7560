"""fct_tag_daily_costs and fct_attribution_coverage on hand-made calls, built by real dbt.

Calls (OpenAI model-a unless the table names another), with their list cost and tags:

| day | call | customer | list cost | tags |
|---|---|---|---|---|
| 10-01 | e1 | A | $0.30 | feature=chat, environment=prod |
| 10-01 | e2 | A | $0.10 | feature=search, experiment=b |
| 10-01 | e3 | B | $0.60 | none |
| 10-01 | e4 | B, Anthropic model-c | $1.00 | feature=chat |
| 10-01 | e5 | A | unpriced | feature=chat |
| 10-02 | e6 | A | $0.50 | environment=prod |
| 10-02 | e7, e8 | C, model-z | unpriced | feature=batch |
| 10-03 | e9 | A | $0.20 | feature=chat |

Allocated cost (fct_customer_daily_costs) on 10-01: A/model-a $0.80 (split 0.60 to e1 and 0.20
to e2 by list cost; unpriced e5 gets nothing), B/model-a $0.90, B/model-c $1.50, and $0.40
unattributed; on 10-02: A/model-a $0.70 and C/model-z $0.50 (split evenly: no call is priced).
The as-of date is 2026-10-03.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.dbt_helpers import run_dbt
from tests.monitoring_warehouse import build, create_project, load_fixtures, query

DAY_1 = dt.date(2026, 10, 1)
DAY_2 = dt.date(2026, 10, 2)
DAY_3 = dt.date(2026, 10, 3)


def call(
    event_id: str,
    day: dt.date,
    customer_id: str,
    list_cost: str | None,
    tags: dict[str, str],
    tokens: tuple[int, int],
    provider: str = "openai",
    model: str = "model-a",
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": dt.datetime.combine(day, dt.time(12)),
        "usage_date": day,
        "provider": provider,
        "model": model,
        "priced_model": model if list_cost is not None else None,
        "customer_id": customer_id,
        "input_uncached_tokens": tokens[0],
        "output_tokens": tokens[1],
        "requests": 1,
        "service_tier": "standard",
        "context_tier": "standard",
        "sub_account_id": "proj_1",
        "tags": json.dumps(tags),
        "is_priced": list_cost is not None,
        "list_cost_usd": None if list_cost is None else Decimal(list_cost),
    }


CALLS = [
    call("e1", DAY_1, "A", "0.30", {"feature": "chat", "environment": "prod"}, (1000, 200)),
    call("e2", DAY_1, "A", "0.10", {"feature": "search", "experiment": "b"}, (500, 100)),
    call("e3", DAY_1, "B", "0.60", {}, (2000, 400)),
    call("e4", DAY_1, "B", "1.00", {"feature": "chat"}, (800, 200), "anthropic", "model-c"),
    call("e5", DAY_1, "A", None, {"feature": "chat"}, (300, 100)),
    call("e6", DAY_2, "A", "0.50", {"environment": "prod"}, (400, 100)),
    call("e7", DAY_2, "C", None, {"feature": "batch"}, (80, 20), model="model-z"),
    call("e8", DAY_2, "C", None, {"feature": "batch"}, (80, 20), model="model-z"),
    call("e9", DAY_3, "A", "0.20", {"feature": "chat"}, (100, 10)),
]


def daily_cost(
    customer_id: str, day: dt.date, provider: str, model: str, allocated: str, list_cost: str | None
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "is_unattributed": customer_id == "(unattributed)",
        "usage_date": day,
        "provider": provider,
        "model": model,
        "requests": 0,
        "list_cost_usd": None if list_cost is None else Decimal(list_cost),
        "allocated_cost_usd": Decimal(allocated),
        "cost_basis": "billed",
    }


DAILY_COSTS = [
    daily_cost("A", DAY_1, "openai", "model-a", "0.80", "0.40"),
    daily_cost("B", DAY_1, "openai", "model-a", "0.90", "0.60"),
    daily_cost("B", DAY_1, "anthropic", "model-c", "1.50", "1.00"),
    daily_cost("(unattributed)", DAY_1, "openai", "model-a", "0.40", None),
    daily_cost("A", DAY_2, "openai", "model-a", "0.70", "0.50"),
    daily_cost("C", DAY_2, "openai", "model-z", "0.50", None),
]


def provider_row(
    table: str, provider: str, day: dt.date, component: str, amount: str, unit: str = "tokens"
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "provider": provider,
        "usage_date": day,
        "model": "model-a" if provider == "openai" else "model-c",
        "price_component": component,
        "service_tier": "standard",
        "context_tier": "standard",
        "sub_account_id": "proj_1",
    }
    if table == "costs":
        return {**row, "line_item": component, "billed_cost_usd": Decimal(amount)}
    return {**row, "quantity": Decimal(amount), "quantity_unit": unit}


PROVIDER_COSTS = [
    provider_row("costs", "openai", DAY_1, "input_uncached", "1.50"),
    provider_row("costs", "openai", DAY_1, "output", "0.60"),
    provider_row("costs", "anthropic", DAY_1, "input_uncached", "1.50"),
    provider_row("costs", "openai", DAY_2, "input_uncached", "1.20"),
]

PROVIDER_USAGE = [
    provider_row("usage", "openai", DAY_1, "input_uncached", "4100"),
    provider_row("usage", "openai", DAY_1, "output", "900"),
    provider_row("usage", "openai", DAY_1, "web_search_request", "7", "requests"),
    provider_row("usage", "anthropic", DAY_1, "input_uncached", "1000"),
]

TAG_COLUMNS = "calls, requests, unpriced_calls, list_cost_usd, allocated_cost_usd"


@pytest.fixture(scope="module")
def tags_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("monitoring_tags")
    create_project(project)
    warehouse = project / "monitoring.duckdb"
    load_fixtures(
        warehouse,
        {
            "fct_llm_calls": CALLS,
            "stg_call_logs__llm_calls": CALLS,
            "fct_customer_daily_costs": DAILY_COSTS,
            "int_provider_costs_daily": PROVIDER_COSTS,
            "int_provider_usage_daily": PROVIDER_USAGE,
        },
    )
    result = build(
        project, warehouse, "2026-10-03", ["+fct_tag_daily_costs", "+fct_attribution_coverage"]
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return project


def tag_rows(
    project: Path, day: dt.date, provider: str, key: str
) -> dict[str | None, tuple[Any, ...]]:
    rows = query(
        project / "monitoring.duckdb",
        f"select tag_value, {TAG_COLUMNS} from marts.fct_tag_daily_costs "
        "where usage_date = ? and provider = ? and tag_key = ?",
        [day, provider, key],
    )
    return {row[0]: row[1:] for row in rows}


@pytest.mark.slow
def test_feature_values_day_one(tags_project: Path) -> None:
    feature = tag_rows(tags_project, DAY_1, "openai", "feature")
    assert feature == {
        "chat": (2, 2, 1, Decimal("0.30"), Decimal("0.60")),
        "search": (1, 1, 0, Decimal("0.10"), Decimal("0.20")),
        "(none)": (1, 1, 0, Decimal("0.60"), Decimal("0.90")),
    }


@pytest.mark.slow
def test_none_value_counts_calls_without_key(tags_project: Path) -> None:
    environment = tag_rows(tags_project, DAY_1, "openai", "environment")
    assert environment == {
        "prod": (1, 1, 0, Decimal("0.30"), Decimal("0.60")),
        "(none)": (3, 3, 1, Decimal("0.70"), Decimal("1.10")),
    }


@pytest.mark.slow
def test_key_seen_on_other_provider_has_rows(tags_project: Path) -> None:
    environment = tag_rows(tags_project, DAY_1, "anthropic", "environment")
    assert environment == {"(none)": (1, 1, 0, Decimal("1.00"), Decimal("1.50"))}


@pytest.mark.slow
def test_key_not_sent_any_more_is_none(tags_project: Path) -> None:
    experiment = tag_rows(tags_project, DAY_2, "openai", "experiment")
    assert experiment == {"(none)": (3, 3, 2, Decimal("0.50"), Decimal("1.20"))}


@pytest.mark.slow
def test_unpriced_group_split_evenly(tags_project: Path) -> None:
    feature = tag_rows(tags_project, DAY_2, "openai", "feature")
    assert feature == {
        "batch": (2, 2, 2, Decimal(0), Decimal("0.50")),
        "(none)": (1, 1, 0, Decimal("0.50"), Decimal("0.70")),
    }


@pytest.mark.slow
def test_every_key_adds_up_to_all_calls(tags_project: Path) -> None:
    totals = query(
        tags_project / "monitoring.duckdb",
        "select usage_date, provider, tag_key, sum(calls), sum(allocated_cost_usd) "
        "from marts.fct_tag_daily_costs group by all order by all",
    )
    assert totals == [
        (DAY_1, "anthropic", "environment", 1, Decimal("1.50")),
        (DAY_1, "anthropic", "experiment", 1, Decimal("1.50")),
        (DAY_1, "anthropic", "feature", 1, Decimal("1.50")),
        (DAY_1, "openai", "environment", 4, Decimal("1.70")),
        (DAY_1, "openai", "experiment", 4, Decimal("1.70")),
        (DAY_1, "openai", "feature", 4, Decimal("1.70")),
        (DAY_2, "openai", "environment", 3, Decimal("1.20")),
        (DAY_2, "openai", "experiment", 3, Decimal("1.20")),
        (DAY_2, "openai", "feature", 3, Decimal("1.20")),
        (DAY_3, "openai", "environment", 1, Decimal(0)),
        (DAY_3, "openai", "experiment", 1, Decimal(0)),
        (DAY_3, "openai", "feature", 1, Decimal(0)),
    ]


@pytest.mark.slow
def test_additivity_test_fails_on_broken_key(tags_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(tags_project, project, ignore=shutil.ignore_patterns("target", "*.duckdb*"))
    shutil.copy(tags_project / "monitoring.duckdb", tmp_path / "broken.duckdb")
    (project / "models" / "broken_tag_costs.sql").write_text(
        "select * from (values\n"
        "    (date '2026-10-01', 'openai', 'feature', 'chat', 2),\n"
        "    (date '2026-10-01', 'openai', 'environment', 'prod', 1),\n"
        "    (date '2026-10-01', 'openai', 'environment', '(none)', 2),\n"
        "    (date '2026-10-02', 'openai', 'feature', 'chat', 1),\n"
        "    (date '2026-10-02', 'openai', 'environment', 'prod', 2)\n"
        ") as broken (usage_date, provider, tag_key, tag_value, calls)\n",
        encoding="utf-8",
    )
    (project / "models" / "broken_tag_costs.yml").write_text(
        "version: 2\nmodels:\n  - name: broken_tag_costs\n    data_tests:\n"
        "      - sums_equal_across_keys:\n          arguments:\n            key_column: tag_key\n"
        "            partition_by: [usage_date, provider]\n            measures: [calls]\n",
        encoding="utf-8",
    )
    result = run_dbt(
        project,
        ["build", "--select", "broken_tag_costs"],
        warehouse=tmp_path / "broken.duckdb",
        target_path=tmp_path / "target",
    )
    assert result.returncode == 1, result.stdout[-3000:]
    # The keys disagree on both days: 2 against 3 calls on 10-01, 1 against 2 on 10-02.
    assert "Got 2 results" in result.stdout


@pytest.mark.slow
def test_coverage_day_one_openai(tags_project: Path) -> None:
    [row] = query(
        tags_project / "monitoring.duckdb",
        "select is_complete_day, cost_basis, billed_cost_usd, total_cost_usd, attributed_cost_usd, "
        "unattributed_cost_usd, attributed_cost_share, tagged_calls, tagged_tokens, "
        "provider_tokens, tagged_token_share, tagged_list_cost_usd "
        "from marts.fct_attribution_coverage where provider = 'openai' and usage_date = ?",
        [DAY_1],
    )
    assert row == (
        True,
        "billed",
        Decimal("2.10"),
        Decimal("2.10"),
        Decimal("1.70"),
        Decimal("0.40"),
        # 1.70 / 2.10 = 0.8095238..., truncated to 6 decimals.
        Decimal("0.809523"),
        4,
        # e1 + e2 + e3 + e5 = 1,200 + 600 + 2,400 + 400 tokens, of 5,000 (web search excluded).
        4600,
        5000,
        Decimal("0.920000"),
        Decimal("1.00"),
    )


@pytest.mark.slow
def test_coverage_without_usage_or_cost(tags_project: Path) -> None:
    rows = query(
        tags_project / "monitoring.duckdb",
        "select usage_date, is_complete_day, cost_basis, total_cost_usd, attributed_cost_share, "
        "provider_tokens, tagged_token_share from marts.fct_attribution_coverage "
        "where provider = 'openai' and usage_date > ? order by usage_date",
        [DAY_1],
    )
    assert rows == [
        (DAY_2, True, "billed", Decimal("1.20"), Decimal("1.000000"), None, None),
        (DAY_3, False, None, Decimal(0), None, None, None),
    ]
