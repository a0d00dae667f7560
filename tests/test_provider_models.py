"""The provider staging and intermediate models, built by dbt on data loaded from the fake APIs.

One warehouse is loaded from both fake Admin APIs and built once for the module; each test reads
one fact from it. The OpenAI and Anthropic usage describe the same calls in each provider's
convention: 1,000 input tokens of which 600 were read from the cache and 100 written to it, and
50 output tokens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmeter.demo.fake_apis import FakeProviderServer, ProviderDataStore
from pipelines import anthropic, openai
from tests.provider_fixtures import build_provider_models, configure_provider, query, run_context

pytestmark = pytest.mark.slow

AS_OF = dt.date(2026, 3, 10)
DAY = "2026-03-07"

OPENAI_USAGE: list[dict[str, Any]] = [
    {
        "date": DAY,
        "endpoint": "completions",
        "project_id": "proj_a",
        "api_key_id": "key_a",
        "model": "gpt-4.1-mini-2025-04-14",
        "batch": False,
        "service_tier": "default",
        # OpenAI's input_tokens include cache reads and cache writes.
        "input_tokens": 1000,
        "input_cached_tokens": 600,
        "input_cache_write_tokens": 100,
        "input_uncached_tokens": 300,
        "output_tokens": 50,
        "num_model_requests": 4,
    },
    {
        "date": DAY,
        "endpoint": "web_search_calls",
        "project_id": "proj_a",
        "api_key_id": "key_a",
        "model": "gpt-4.1-mini-2025-04-14",
        "num_model_requests": 2,
        "num_requests": 3,
    },
]
OPENAI_COSTS: list[dict[str, Any]] = [
    {
        "date": DAY,
        "project_id": "proj_a",
        "line_item": "gpt-4.1-mini-2025-04-14, input",
        "amount_usd": "34.7",
        "quantity": 300,
        "quantity_unit": "tokens",
    },
    {
        "date": DAY,
        "project_id": "proj_a",
        "line_item": "priority | gpt-5.6-sol, output, long context",
        "amount_usd": "0.000000000000000001",
        "quantity": 7,
        "quantity_unit": "tokens",
    },
    {
        "date": DAY,
        "project_id": "proj_a",
        "line_item": "dall-e 3, standard, 1024x1792, 1792x1024",
        "amount_usd": "0.08",
        "quantity": 2,
        "quantity_unit": "images",
    },
]
ANTHROPIC_USAGE: list[dict[str, Any]] = [
    {
        "date": DAY,
        "model": "claude-sonnet-4-5-20250929",
        "api_key_id": "apikey_01",
        "workspace_id": "wrkspc_01",
        "service_tier": "standard",
        "context_window": "0-200k",
        # Anthropic's uncached input excludes cache reads and cache writes.
        "uncached_input_tokens": 300,
        "cache_read_input_tokens": 600,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 50,
        "server_tool_use": {"web_search_requests": 3},
    },
    {
        "date": DAY,
        "model": "claude-haiku-4-5-20251001",
        "api_key_id": None,
        "workspace_id": None,
        "service_tier": "standard",
        "context_window": "0-200k",
        "uncached_input_tokens": 2100,
        "output_tokens": 950,
    },
]
ANTHROPIC_COSTS: list[dict[str, Any]] = [
    {
        "date": DAY,
        "workspace_id": "wrkspc_01",
        "description": "Claude Sonnet 4.5 Usage - Input Tokens",
        "cost_type": "tokens",
        "token_type": "uncached_input_tokens",
        "model": "claude-sonnet-4-5-20250929",
        "service_tier": "standard",
        "context_window": "0-200k",
        "amount_cents": "54.702000",
    },
    {
        "date": DAY,
        "workspace_id": None,
        "description": "Web Search Usage",
        "cost_type": "web_search",
        "amount_cents": "1.000000",
    },
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Load both providers into one warehouse and build their models; yield it and dbt's output."""
    folder = tmp_path_factory.mktemp("provider_models")
    warehouse = folder / "warehouse.duckdb"
    store = ProviderDataStore(
        openai_usage=OPENAI_USAGE,
        openai_costs=OPENAI_COSTS,
        anthropic_usage=ANTHROPIC_USAGE,
        anthropic_costs=ANTHROPIC_COSTS,
    )
    with (
        FakeProviderServer(store, now=dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)) as server,
        pytest.MonkeyPatch.context() as monkeypatch,
    ):
        configure_provider(monkeypatch, server, "openai", backfill_days=5)
        configure_provider(monkeypatch, server, "anthropic", backfill_days=5)
        openai.extract(run_context(warehouse, AS_OF))
        anthropic.extract(run_context(warehouse, AS_OF))
    output = build_provider_models(warehouse, folder / "target", AS_OF)
    yield warehouse, output


def test_cents_converted_to_dollars_exactly(built: tuple[Path, str]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select billed_cost_usd, cast(billed_cost_usd as varchar), typeof(billed_cost_usd) "
        "from staging.stg_anthropic__costs where line_item like '%Input Tokens'",
    )
    assert rows == [(Decimal("0.547020000000000000"), "0.547020000000000000", "DECIMAL(38,18)")]


def test_cached_tokens_same_for_both_conventions(built: tuple[Path, str]) -> None:
    warehouse, _ = built
    sql = """
        select price_component, quantity
        from intermediate.int_provider_usage_daily
        where provider = '{provider}' and model like '{model}%'
            and quantity_unit = 'tokens'
        order by price_component
    """
    openai_tokens = query(warehouse, sql.format(provider="openai", model="gpt-4.1-mini"))
    anthropic_tokens = query(warehouse, sql.format(provider="anthropic", model="claude-sonnet"))

    expected = [
        ("cache_read", 600),
        ("cache_write_5m", 100),
        ("input_uncached", 300),
        ("output", 50),
    ]
    assert openai_tokens == expected
    assert anthropic_tokens == expected


def test_web_search_requests_in_usage(built: tuple[Path, str]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select provider, quantity, quantity_unit from intermediate.int_provider_usage_daily "
        "where price_component = 'web_search_request' order by provider",
    )
    assert rows == [("anthropic", 3, "requests"), ("openai", 3, "requests")]


def test_reserved_identifiers_for_workbench(built: tuple[Path, str]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select api_key_id, workspace_id from staging.stg_anthropic__messages_usage "
        "where model = 'claude-haiku-4-5-20251001'",
    )
    assert rows == [("(no key)", "(default)")]
    usage_accounts = query(
        warehouse,
        "select distinct sub_account_id from intermediate.int_provider_usage_daily "
        "where model = 'claude-haiku-4-5-20251001'",
    )
    assert usage_accounts == [("(default)",)]


def test_costs_keep_every_dollar(built: tuple[Path, str]) -> None:
    warehouse, _ = built
    totals = query(
        warehouse,
        "select provider, sum(billed_cost_usd) from intermediate.int_provider_costs_daily "
        "group by provider order by provider",
    )
    # OpenAI: 34.7 + 0.08 + 1e-18 dollars; Anthropic: (54.702 + 1) cents.
    assert totals == [
        ("anthropic", Decimal("0.557020000000000000")),
        ("openai", Decimal("34.780000000000000001")),
    ]


def test_long_context_priority_cost_row(built: tuple[Path, str]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select model, price_component, service_tier, context_tier, quantity "
        "from intermediate.int_provider_costs_daily where provider = 'openai' "
        "and context_tier = 'long'",
    )
    assert rows == [("gpt-5.6-sol", "output", "priority", "long", Decimal(7))]


def test_unparsed_line_item_kept_and_warned(built: tuple[Path, str]) -> None:
    warehouse, output = built
    rows = query(
        warehouse,
        "select model, price_component, is_line_item_parsed, billed_cost_usd "
        "from intermediate.int_provider_costs_daily "
        "where line_item = 'dall-e 3, standard, 1024x1792, 1792x1024'",
    )
    assert rows == [("dall-e 3", "other", False, Decimal("0.08"))]
    warning_lines = [line for line in output.splitlines() if "warn_unparsed" in line]
    assert any("WARN 1" in line for line in warning_lines), warning_lines


def test_web_search_cost_without_model(built: tuple[Path, str]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select model, price_component, sub_account_id, billed_cost_usd "
        "from intermediate.int_provider_costs_daily where provider = 'anthropic' "
        "and line_item = 'Web Search Usage'",
    )
    assert rows == [("(no model)", "web_search_request", "(default)", Decimal("0.01"))]
