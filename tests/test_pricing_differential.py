"""Differential test: dbt's list cost of random calls against `genai_prices.calc_price`.

The test loads 1,200 standard-tier calls over every model of the price seed as call logs. Their
instants are random between 2025-01-01 and 2027-03-01, so they cross the dated price changes.
`dbt build --select +int_llm_calls_priced` prices them, and each call's list cost is compared
with genai-prices 0.2.3 at the same timestamp. The documented differences are asserted on calls
of their own.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from genai_prices import Usage
from genai_prices import types as genai_types

from llmeter.prices.catalog import provider_models
from llmeter.prices.history import read_price_seed
from tests.pricing_warehouse import (
    PROJECT_ROOT,
    copy_project,
    create_raw_calls,
    dbt_build,
    insert_calls,
    query,
)

pytestmark = pytest.mark.slow

CALL_COUNT = 1200
TOLERANCE = Decimal("1e-9")
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)

# genai-prices cannot find these models by their own id (it matches `ft:gpt-4o-2024-...`).
NOT_REFERABLE_BY_ID = {("openai", "ft:gpt-4o"), ("openai", "ft:gpt-4o-mini")}

KEY_COMPONENTS = {
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write_5m",
    "cache_write_1h_mtok": "cache_write_1h",
    "web_searches_kcount": "web_search_request",
}


@dataclass(frozen=True)
class Call:
    """A random call and the usage genai-prices prices."""

    event_id: str
    provider: str
    model: str
    occurred_at: dt.datetime
    tokens: dict[str, int]

    def record(self) -> dict[str, Any]:
        """The call-log record of the call."""
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "provider": self.provider,
            "model": self.model,
            "customer_id": "diff",
            "service_tier": "default" if self.provider == "openai" else "standard",
            **self.tokens,
        }

    def genai_usage(self) -> Usage:
        """The same usage in genai-prices' terms (input and cache writes are totals)."""
        tokens = self.tokens
        return Usage(
            input_tokens=tokens["input_uncached_tokens"]
            + tokens["cache_read_tokens"]
            + tokens["cache_write_5m_tokens"]
            + tokens["cache_write_1h_tokens"],
            cache_read_tokens=tokens["cache_read_tokens"],
            cache_write_tokens=tokens["cache_write_5m_tokens"] + tokens["cache_write_1h_tokens"],
            cache_write_1h_tokens=tokens["cache_write_1h_tokens"],
            output_tokens=tokens["output_tokens"],
            web_searches=tokens["web_search_requests"],
        )


def _keys_added_later() -> dict[tuple[str, str, str], dt.date]:
    """Find each (provider, model, component) whose genai-prices key first appears later.

    The seed prices such a component from the start of its history. genai-prices prices it
    from that date only, and before it as input or not at all.
    """
    added: dict[tuple[str, str, str], dt.date] = {}
    for provider, model in provider_models():
        if not isinstance(model.prices, list):
            continue
        seen: set[str] = set()
        for index, conditional in enumerate(model.prices):
            keys = {key for key, value in vars(conditional.prices).items() if value is not None}
            constraint = conditional.constraint
            if index > 0 and isinstance(constraint, genai_types.StartDateConstraint):
                for key in keys - seen:
                    if key in KEY_COMPONENTS:
                        added[(provider, model.id, KEY_COMPONENTS[key])] = constraint.start_date
            seen |= keys
    return added


def _random_calls(rng: random.Random) -> Iterator[Call]:
    seed_rows = [
        row
        for row in read_price_seed(PROJECT_ROOT / "seeds" / "model_prices.csv")
        if row.service_tier == "standard"
    ]
    models = sorted({(row.provider, row.model) for row in seed_rows} - NOT_REFERABLE_BY_ID)
    added_later = _keys_added_later()
    span = int((END - START).total_seconds())

    for index in range(CALL_COUNT):
        provider, model = rng.choice(models)
        occurred_at = START + dt.timedelta(seconds=rng.randrange(span))
        naive = occurred_at.replace(tzinfo=None)
        priced = {
            row.price_component
            for row in seed_rows
            if (row.provider, row.model) == (provider, model)
            and row.valid_from_at <= naive
            and (row.valid_to_at is None or naive < row.valid_to_at)
        }
        for (added_provider, added_model, component), day in added_later.items():
            if (added_provider, added_model) == (provider, model) and occurred_at.date() < day:
                priced.discard(component)

        long_context = rng.random() < 0.1
        tokens = {
            "input_uncached_tokens": rng.randrange(280_000, 400_000)
            if long_context
            else rng.randrange(0, 60_000),
            "cache_read_tokens": rng.randrange(0, 30_000) if rng.random() < 0.5 else 0,
            "cache_write_5m_tokens": rng.randrange(0, 8_000) if rng.random() < 0.3 else 0,
            "cache_write_1h_tokens": rng.randrange(0, 8_000) if rng.random() < 0.2 else 0,
            "output_tokens": rng.randrange(0, 6_000),
            "web_search_requests": rng.randrange(1, 6) if rng.random() < 0.3 else 0,
        }
        components = {
            "input_uncached_tokens": "input_uncached",
            "cache_read_tokens": "cache_read",
            "cache_write_5m_tokens": "cache_write_5m",
            "cache_write_1h_tokens": "cache_write_1h",
            "output_tokens": "output",
            "web_search_requests": "web_search_request",
        }
        for column, component in components.items():
            if component not in priced:
                tokens[column] = 0
        tokens["reasoning_tokens"] = rng.randrange(0, tokens["output_tokens"] + 1)
        yield Call(f"random-{index:04d}", provider, model, occurred_at, tokens)


def _tokens(**counts: int) -> dict[str, int]:
    tokens = {
        "input_uncached_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_5m_tokens": 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "web_search_requests": 0,
    }
    tokens.update(counts)
    return tokens


DIFFERENCE_CALLS = {
    call.event_id: call
    for call in (
        # No output price: genai-prices charges only the input, the seed leaves it unpriced.
        Call(
            "diff-embedding-output",
            "openai",
            "text-embedding-3-small",
            dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC),
            _tokens(input_uncached_tokens=1_000_000, output_tokens=100),
        ),
        # No web search price: genai-prices ignores the searches, the seed leaves it unpriced.
        Call(
            "diff-web-search-unpriced",
            "anthropic",
            "claude-2",
            dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC),
            _tokens(input_uncached_tokens=1_000_000, web_search_requests=3),
        ),
        # cache_read_mtok appears in genai-prices on 2026-10-19; the seed applies it earlier.
        Call(
            "diff-key-added-later",
            "openai",
            "gpt-5.5-cyber",
            dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC),
            _tokens(cache_read_tokens=1_000_000),
        ),
        # A fine-tuned model name: genai-prices matches its prefix, the seed has no alias.
        Call(
            "diff-fine-tuned-name",
            "openai",
            "ft:gpt-4o-2024-08-06:acme::abc123",
            dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC),
            _tokens(input_uncached_tokens=1_000_000),
        ),
    )
}


def _genai_cost(call: Call) -> Decimal:
    calculation = genai_prices.calc_price(
        call.genai_usage(),
        call.model,
        provider_id=call.provider,
        genai_request_timestamp=call.occurred_at,
    )
    return calculation.total_price


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, ...]]:
    """Build the pricing models over the random and the difference calls; rows by event_id."""
    project = copy_project(tmp_path_factory.mktemp("differential") / "project")
    warehouse = project / "differential.duckdb"
    calls = list(_random_calls(random.Random(20261101))) + list(DIFFERENCE_CALLS.values())
    create_raw_calls(warehouse)
    insert_calls(warehouse, (call.record() for call in calls))

    dbt_build(project, warehouse, ["+int_llm_calls_priced"])

    rows = query(
        warehouse,
        "select event_id, list_cost_usd, is_priced, unpriced_reason "
        "from intermediate.int_llm_calls_priced",
    )
    return {row[0]: row for row in rows}


def test_random_calls_match_genai_prices(priced: dict[str, tuple[Any, ...]]) -> None:
    calls = list(_random_calls(random.Random(20261101)))
    mismatches = []
    for call in calls:
        _, list_cost, is_priced, reason = priced[call.event_id]
        expected = _genai_cost(call)
        if not is_priced or abs(list_cost - expected) > TOLERANCE:
            mismatches.append(
                (
                    call.event_id,
                    call.provider,
                    call.model,
                    call.occurred_at,
                    list_cost,
                    expected,
                    reason,
                )
            )

    assert len(calls) >= 1000
    assert len({(call.provider, call.model) for call in calls}) >= 150
    assert mismatches == []


def test_component_without_price_is_unpriced(priced: dict[str, tuple[Any, ...]]) -> None:
    embedding = priced["diff-embedding-output"]
    web_search = priced["diff-web-search-unpriced"]

    assert embedding[1:] == (None, False, "no standard price for output")
    assert _genai_cost(DIFFERENCE_CALLS["diff-embedding-output"]) == Decimal("0.02")
    assert web_search[1:] == (None, False, "no standard price for web_search_request")
    assert _genai_cost(DIFFERENCE_CALLS["diff-web-search-unpriced"]) == Decimal("8")


def test_key_added_later_priced_from_history_start(priced: dict[str, tuple[Any, ...]]) -> None:
    _, list_cost, is_priced, _ = priced["diff-key-added-later"]

    assert is_priced is True
    assert list_cost == Decimal("1.25")
    assert _genai_cost(DIFFERENCE_CALLS["diff-key-added-later"]) == Decimal("12.5")


def test_fine_tuned_name_is_unknown(priced: dict[str, tuple[Any, ...]]) -> None:
    assert priced["diff-fine-tuned-name"][1:] == (None, False, "unknown model")
    assert _genai_cost(DIFFERENCE_CALLS["diff-fine-tuned-name"]) == Decimal("3.75")
