"""Aggregates of the demo's calls: the provider's usage and billed costs, and the ground truth.

The provider bills each line item as its aggregated quantity times the unit price of
genai-prices. OpenAI amounts stay exact; Anthropic's cost report rounds each amount to six
decimals of a cent (ROUND_HALF_UP), and the rounded value is what is billed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from llmeter.demo import catalog
from llmeter.demo.calls import Call
from llmeter.demo.catalog import ANTHROPIC, OPENAI
from llmeter.demo.pricing import (
    CACHE_READ,
    CACHE_WRITE_1H,
    CACHE_WRITE_5M,
    INPUT_UNCACHED,
    OUTPUT,
    REQUESTS_PER_PRICE_UNIT,
    TOKEN_COMPONENTS,
    TOKENS_PER_PRICE_UNIT,
    WEB_SEARCH_REQUEST,
    PriceOracle,
)

CENTS_PER_DOLLAR = Decimal(100)
DOLLARS_PER_CENT = Decimal("0.01")
ANTHROPIC_CENTS_QUANTUM = Decimal("0.000001")
DEFAULT_WORKSPACE = "(default)"

OPENAI_LINE_ITEM_LABELS = {
    INPUT_UNCACHED: "input",
    CACHE_READ: "cached input",
    CACHE_WRITE_5M: "cache writes",
    OUTPUT: "output",
}
OPENAI_WEB_SEARCH_LINE_ITEM = "web search tool calls"

ANTHROPIC_TOKEN_TYPES = {
    INPUT_UNCACHED: "uncached_input_tokens",
    CACHE_READ: "cache_read_input_tokens",
    CACHE_WRITE_5M: "cache_creation.ephemeral_5m_input_tokens",
    CACHE_WRITE_1H: "cache_creation.ephemeral_1h_input_tokens",
    OUTPUT: "output_tokens",
}
ANTHROPIC_DESCRIPTION_LABELS = {
    INPUT_UNCACHED: "Input Tokens",
    CACHE_READ: "Input Tokens, Cache Read",
    CACHE_WRITE_5M: "Input Tokens, 5m Cache Write",
    CACHE_WRITE_1H: "Input Tokens, 1h Cache Write",
    OUTPUT: "Output Tokens",
}
ANTHROPIC_WEB_SEARCH_DESCRIPTION = "Web Search Usage"

# Index of each value in the per-customer and per-job daily sums.
DAILY_COLUMNS = (
    "requests",
    "input_uncached_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "web_search_requests",
)


def decimal_text(value: Decimal) -> str:
    """Format a Decimal in fixed-point notation without trailing zeros ("0.308", "12")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def canonical_tier(is_batch: bool) -> str:
    return "batch" if is_batch else "standard"


def context_tier(is_long: bool) -> str:
    return "long" if is_long else "standard"


@dataclass(frozen=True)
class BilledCost:
    """One billed amount at the finest grain the provider bills (per API key for OpenAI)."""

    provider: str
    day: dt.date
    model: str | None
    component: str
    is_batch: bool
    is_long: bool
    sub_account_id: str | None
    api_key_id: str | None
    line_item: str
    quantity: int | None
    amount_usd: Decimal
    amount_cents: Decimal | None
    """Anthropic only: the amount in cents as the cost report states it."""


class Ledger:
    """Running sums of every call, then the rows of the provider files and the ground truth."""

    def __init__(self) -> None:
        self.customer_daily: dict[tuple[str, dt.date, str, str], list[int]] = {}
        self.customer_daily_cost: dict[tuple[str, dt.date, str, str], Decimal] = {}
        self.untagged_daily: dict[tuple[dt.date, str, str], list[int]] = {}
        self.untagged_daily_cost: dict[tuple[dt.date, str, str], Decimal] = {}
        # (day, project, key, model, batch) ->
        # input, cached, cache write, uncached, output, requests
        self.openai_usage: dict[tuple[dt.date, str, str, str, bool], list[int]] = {}
        # (day, project, key, model) -> model requests with a search, searches
        self.openai_web: dict[tuple[dt.date, str, str, str], list[int]] = {}
        self.openai_quantities: dict[tuple[dt.date, str, str, str, bool, bool, str], int] = {}
        # (day, key, workspace, model, batch, long) -> uncached, read, 5m, 1h, output, searches
        self.anthropic_usage: dict[tuple[dt.date, str, str | None, str, bool, bool], list[int]] = {}
        self.anthropic_quantities: dict[tuple[dt.date, str | None, str, bool, bool, str], int] = {}
        self.anthropic_web: dict[tuple[dt.date, str | None, str], int] = {}
        self.key_last_used_ms: dict[str, int] = {}
        self.calls_tagged = 0
        self.calls_untagged = 0
        self.late_records = 0

    def add(self, call: Call) -> None:
        """Add one call to every aggregate."""
        spec = call.spec
        values = (
            1,
            call.input_uncached,
            call.cache_read,
            call.cache_write_5m,
            call.cache_write_1h,
            call.output,
            call.reasoning,
            call.web_searches,
        )
        if call.customer_id is not None:
            self.calls_tagged += 1
            self.late_records += call.is_late
            customer_key = (call.customer_id, call.day, spec.provider, spec.model)
            _add_into(self.customer_daily, customer_key, values)
            self.customer_daily_cost[customer_key] = (
                self.customer_daily_cost.get(customer_key, Decimal(0)) + call.cost
            )
        else:
            self.calls_untagged += 1
            job_key = (call.day, spec.provider, spec.model)
            _add_into(self.untagged_daily, job_key, values)
            self.untagged_daily_cost[job_key] = (
                self.untagged_daily_cost.get(job_key, Decimal(0)) + call.cost
            )

        key = call.api_key
        self.key_last_used_ms[key.key_id] = max(
            self.key_last_used_ms.get(key.key_id, 0), call.occurred_ms
        )
        quantities = (
            (INPUT_UNCACHED, call.input_uncached),
            (CACHE_READ, call.cache_read),
            (CACHE_WRITE_5M, call.cache_write_5m),
            (CACHE_WRITE_1H, call.cache_write_1h),
            (OUTPUT, call.output),
        )
        if spec.provider == OPENAI:
            assert key.sub_account_id is not None and call.cache_write_1h == 0
            project = key.sub_account_id
            usage = (
                call.total_input,
                call.cache_read,
                call.cache_write_5m,
                call.input_uncached,
                call.output,
                1,
            )
            _add_into(
                self.openai_usage, (call.day, project, key.key_id, spec.model, call.is_batch), usage
            )
            if call.web_searches:
                web_key = (call.day, project, key.key_id, spec.model)
                _add_into(self.openai_web, web_key, (1, call.web_searches))
            for component, quantity in quantities:
                if quantity:
                    cost_key = (
                        call.day,
                        project,
                        key.key_id,
                        spec.model,
                        call.is_batch,
                        call.is_long,
                        component,
                    )
                    self.openai_quantities[cost_key] = (
                        self.openai_quantities.get(cost_key, 0) + quantity
                    )
        else:
            workspace = key.sub_account_id
            usage_key = (call.day, key.key_id, workspace, spec.model, call.is_batch, call.is_long)
            _add_into(
                self.anthropic_usage, usage_key, (*(q for _, q in quantities), call.web_searches)
            )
            for component, quantity in quantities:
                if quantity:
                    token_key = (
                        call.day,
                        workspace,
                        spec.model,
                        call.is_batch,
                        call.is_long,
                        component,
                    )
                    self.anthropic_quantities[token_key] = (
                        self.anthropic_quantities.get(token_key, 0) + quantity
                    )
            if call.web_searches:
                search_key = (call.day, workspace, spec.model)
                self.anthropic_web[search_key] = (
                    self.anthropic_web.get(search_key, 0) + call.web_searches
                )

    # Provider usage files.

    def openai_usage_rows(self) -> list[dict[str, Any]]:
        """Rows of `provider/openai_usage.ndjson`: completions and web search usage per day."""
        rows: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        for (day, project, key, model, batch), values in self.openai_usage.items():
            total, cached, cache_write, uncached, output, requests = values
            row = {
                "date": day.isoformat(),
                "endpoint": "completions",
                "project_id": project,
                "user_id": None,
                "api_key_id": key,
                "model": model,
                "batch": batch,
                "service_tier": "default",
                "input_tokens": total,
                "input_cached_tokens": cached,
                "input_cache_write_tokens": cache_write,
                "input_uncached_tokens": uncached,
                "output_tokens": output,
                "input_text_tokens": uncached,
                "input_cached_text_tokens": cached,
                "output_text_tokens": output,
                "num_model_requests": requests,
            }
            rows.append(((day, "completions", project, key, model, batch), row))
        for (day, project, key, model), (model_requests, searches) in self.openai_web.items():
            row = {
                "date": day.isoformat(),
                "endpoint": "web_search_calls",
                "project_id": project,
                "user_id": None,
                "api_key_id": key,
                "model": model,
                "context_level": "medium",
                "num_model_requests": model_requests,
                "num_requests": searches,
            }
            rows.append(((day, "web_search_calls", project, key, model, False), row))
        return [row for _, row in sorted(rows, key=lambda item: item[0])]

    def anthropic_usage_rows(self) -> list[dict[str, Any]]:
        """Rows of `provider/anthropic_usage.ndjson`, one per day, key, model, tier and window."""
        rows = []
        for key in sorted(self.anthropic_usage, key=_sortable):
            day, api_key, workspace, model, batch, long = key
            uncached, read, write_5m, write_1h, output, searches = self.anthropic_usage[key]
            rows.append(
                {
                    "date": day.isoformat(),
                    "api_key_id": api_key,
                    "workspace_id": workspace,
                    "model": model,
                    "service_tier": canonical_tier(batch),
                    "context_window": "200k-1M" if long else "0-200k",
                    "inference_geo": "global",
                    "uncached_input_tokens": uncached,
                    "cache_read_input_tokens": read,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": write_5m,
                        "ephemeral_1h_input_tokens": write_1h,
                    },
                    "output_tokens": output,
                    "server_tool_use": {"web_search_requests": searches},
                }
            )
        return rows

    # Billed costs.

    def billed_costs(self, oracle: PriceOracle) -> list[BilledCost]:
        """Price every aggregated quantity and return the billed amounts, sorted."""
        costs = list(self._openai_costs(oracle)) + list(self._anthropic_costs(oracle))
        return sorted(costs, key=_cost_sort_key)

    def _openai_costs(self, oracle: PriceOracle) -> Iterator[BilledCost]:
        for cost_key, quantity in self.openai_quantities.items():
            day, project, key, model, batch, long, component = cost_key
            prices = oracle.unit_prices(OPENAI, model, day, batch)
            assert prices is not None
            amount = quantity * prices.price(component, long) / TOKENS_PER_PRICE_UNIT
            line_item = f"{model}, {OPENAI_LINE_ITEM_LABELS[component]}"
            if long:
                line_item += ", long context"
            if batch:
                # NOTE: the "batch | " prefix follows the observed "priority | " prefix; the
                # live spelling of batch line items is not confirmed.
                line_item = "batch | " + line_item
            yield BilledCost(
                OPENAI,
                day,
                model,
                component,
                batch,
                long,
                project,
                key,
                line_item,
                quantity,
                amount,
                None,
            )

        searches: dict[tuple[dt.date, str, str], list[Any]] = {}
        for (day, project, key, model), (_, count) in self.openai_web.items():
            prices = oracle.unit_prices(OPENAI, model, day, False)
            assert prices is not None
            amount = count * prices.price(WEB_SEARCH_REQUEST, False) / REQUESTS_PER_PRICE_UNIT
            total = searches.setdefault((day, project, key), [0, Decimal(0)])
            total[0] += count
            total[1] += amount
        for (day, project, key), (count, amount) in searches.items():
            yield BilledCost(
                OPENAI,
                day,
                None,
                WEB_SEARCH_REQUEST,
                False,
                False,
                project,
                key,
                OPENAI_WEB_SEARCH_LINE_ITEM,
                count,
                amount,
                None,
            )

    def _anthropic_costs(self, oracle: PriceOracle) -> Iterator[BilledCost]:
        for cost_key, quantity in self.anthropic_quantities.items():
            day, workspace, model, batch, long, component = cost_key
            prices = oracle.unit_prices(ANTHROPIC, model, day, batch)
            assert prices is not None
            amount = quantity * prices.price(component, long) / TOKENS_PER_PRICE_UNIT
            # NOTE: Anthropic documents only the "<model> Usage - Input Tokens" form; the batch
            # and long-context spellings here are made up so that each description is unique.
            display = catalog.MODELS[model].display_name
            usage = "Batch Usage" if batch else "Usage"
            description = f"{display} {usage} - {ANTHROPIC_DESCRIPTION_LABELS[component]}"
            if long:
                description += ", Long Context"
            yield _anthropic_cost(
                day, workspace, model, component, batch, long, description, amount
            )

        searches: dict[tuple[dt.date, str | None], Decimal] = {}
        for (day, workspace, model), count in self.anthropic_web.items():
            prices = oracle.unit_prices(ANTHROPIC, model, day, False)
            assert prices is not None
            amount = count * prices.price(WEB_SEARCH_REQUEST, False) / REQUESTS_PER_PRICE_UNIT
            searches[(day, workspace)] = searches.get((day, workspace), Decimal(0)) + amount
        for (day, workspace), amount in searches.items():
            yield _anthropic_cost(
                day,
                workspace,
                None,
                WEB_SEARCH_REQUEST,
                False,
                False,
                ANTHROPIC_WEB_SEARCH_DESCRIPTION,
                amount,
            )


def openai_cost_rows(costs: list[BilledCost]) -> list[dict[str, Any]]:
    """Rows of `provider/openai_costs.ndjson`, one per day, project, API key and line item."""
    return [
        {
            "date": cost.day.isoformat(),
            "project_id": cost.sub_account_id,
            "api_key_id": cost.api_key_id,
            "line_item": cost.line_item,
            "amount_usd": decimal_text(cost.amount_usd),
            "quantity": cost.quantity,
            "quantity_unit": None if cost.component == WEB_SEARCH_REQUEST else "tokens",
        }
        for cost in costs
        if cost.provider == OPENAI
    ]


def anthropic_cost_rows(costs: list[BilledCost]) -> list[dict[str, Any]]:
    """Rows of `provider/anthropic_costs.ndjson`, one per day, workspace and description."""
    rows = []
    for cost in costs:
        if cost.provider != ANTHROPIC:
            continue
        assert cost.amount_cents is not None
        is_tokens = cost.component in TOKEN_COMPONENTS
        context_window = None
        if is_tokens:
            context_window = "200k-1M" if cost.is_long else "0-200k"
        rows.append(
            {
                "date": cost.day.isoformat(),
                "workspace_id": cost.sub_account_id,
                "description": cost.line_item,
                "cost_type": "tokens" if is_tokens else "web_search",
                "token_type": ANTHROPIC_TOKEN_TYPES.get(cost.component),
                "model": cost.model,
                "service_tier": canonical_tier(cost.is_batch) if is_tokens else None,
                "context_window": context_window,
                "inference_geo": "global" if is_tokens else None,
                "amount_cents": str(cost.amount_cents),
            }
        )
    return rows


def _anthropic_cost(
    day: dt.date,
    workspace: str | None,
    model: str | None,
    component: str,
    batch: bool,
    long: bool,
    description: str,
    amount: Decimal,
) -> BilledCost:
    cents = (amount * CENTS_PER_DOLLAR).quantize(ANTHROPIC_CENTS_QUANTUM, rounding=ROUND_HALF_UP)
    return BilledCost(
        provider=ANTHROPIC,
        day=day,
        model=model,
        component=component,
        is_batch=batch,
        is_long=long,
        sub_account_id=workspace,
        api_key_id=None,
        line_item=description,
        quantity=None,
        amount_usd=cents * DOLLARS_PER_CENT,
        amount_cents=cents,
    )


def _add_into(target: dict[Any, list[int]], key: Any, values: tuple[int, ...]) -> None:
    current = target.get(key)
    if current is None:
        target[key] = list(values)
    else:
        for index, value in enumerate(values):
            current[index] += value


def _sortable(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Replace None (the default workspace) by "", which sorts before every id."""
    return tuple("" if value is None else value for value in key)


def _cost_sort_key(cost: BilledCost) -> tuple[Any, ...]:
    return (
        cost.provider,
        cost.day,
        cost.sub_account_id or "",
        cost.api_key_id or "",
        cost.line_item,
    )
