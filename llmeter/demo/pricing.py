"""List prices of the demo company's calls, taken from genai-prices (the independent oracle).

Two paths use genai-prices, so that tests can check one against the other:

- `PriceOracle.call_cost` prices one call with `genai_prices.calc_price`, the way the ground
  truth prices each tagged call.
- `PriceOracle.unit_prices` reads the resolved per-unit prices of a model on a day, which the
  simulated provider bills against aggregated quantities (quantity x price per line item).

`Usage.input_tokens` is the total input: uncached input plus cache reads plus cache writes.
`cache_write_tokens` is every cache write, and `cache_write_1h_tokens` the 1-hour part of it, so
genai-prices prices the 5-minute part at `cache_write_mtok` and the rest at
`cache_write_1h_mtok`. Batch prices are a price variant selected by the price context
`{"processing": "batch"}`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import (
    ConditionalPrice,
    ModelInfo,
    ModelPrice,
    StartDateConstraint,
    TieredPrices,
)

INPUT_UNCACHED = "input_uncached"
CACHE_READ = "cache_read"
CACHE_WRITE_5M = "cache_write_5m"
CACHE_WRITE_1H = "cache_write_1h"
OUTPUT = "output"
WEB_SEARCH_REQUEST = "web_search_request"

TOKEN_COMPONENTS = (INPUT_UNCACHED, CACHE_READ, CACHE_WRITE_5M, CACHE_WRITE_1H, OUTPUT)

# genai-prices price key of each price component (see docs/vocabulary.md for the components).
PRICE_KEYS = {
    INPUT_UNCACHED: "input_mtok",
    CACHE_READ: "cache_read_mtok",
    CACHE_WRITE_5M: "cache_write_mtok",
    CACHE_WRITE_1H: "cache_write_1h_mtok",
    OUTPUT: "output_mtok",
    WEB_SEARCH_REQUEST: "web_searches_kcount",
}
TOKENS_PER_PRICE_UNIT = Decimal(1_000_000)
REQUESTS_PER_PRICE_UNIT = Decimal(1_000)

BATCH_CONTEXT = {"processing": "batch"}


@dataclass(frozen=True)
class UnitPrices:
    """The prices of one model on one day for one processing mode (standard or batch).

    `standard` and `long` map a price component to US dollars per million tokens (per thousand
    requests for web search). `long` is None for a model without a long-context tier; a call
    whose total input exceeds `long_threshold_tokens` is priced entirely at `long`.
    """

    standard: dict[str, Decimal]
    long: dict[str, Decimal] | None
    long_threshold_tokens: int | None

    def price(self, component: str, is_long: bool) -> Decimal:
        """Return the unit price of `component`; raise KeyError when genai-prices has none."""
        if is_long:
            if self.long is None:
                raise KeyError(f"no long-context price for {component}")
            return self.long[component]
        return self.standard[component]

    def has(self, component: str) -> bool:
        return component in self.standard


@dataclass(frozen=True)
class PriceChange:
    """A day on which genai-prices starts a new standard price for a model."""

    provider: str
    model: str
    date: dt.date
    old: dict[str, Decimal]
    new: dict[str, Decimal]


def noon(day: dt.date) -> dt.datetime:
    """Midday UTC of `day`: genai-prices selects prices by the UTC date of the request."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


class PriceOracle:
    """genai-prices lookups for the demo's models, cached per model, day and processing mode."""

    def __init__(self) -> None:
        self._snapshot = get_snapshot()
        self._unit_prices: dict[tuple[str, str, dt.date, bool], UnitPrices | None] = {}

    def model_info(self, provider: str, model: str) -> ModelInfo:
        """Return genai-prices' model for `model`; raise LookupError when it has none."""
        _, info = self._snapshot.find_provider_model(model, None, provider, None)
        return info

    def unit_prices(
        self, provider: str, model: str, day: dt.date, batch: bool
    ) -> UnitPrices | None:
        """Return the unit prices on `day`, or None for batch when no batch variant is active.

        For batch, only the components that the active batch variant prices explicitly are
        returned, so that the demo never generates a batch token class whose batch price
        genai-prices would silently take from the standard price.
        """
        cache_key = (provider, model, day, batch)
        if cache_key not in self._unit_prices:
            self._unit_prices[cache_key] = self._resolve(provider, model, day, batch)
        return self._unit_prices[cache_key]

    def _resolve(self, provider: str, model: str, day: dt.date, batch: bool) -> UnitPrices | None:
        info = self.model_info(provider, model)
        timestamp = noon(day)
        resolved = info.get_prices(timestamp, BATCH_CONTEXT if batch else None)
        components = list(PRICE_KEYS)
        if batch:
            batch_keys = _active_batch_price_keys(info, timestamp)
            if not batch_keys:
                return None
            # Web search is not a batch price in genai-prices, and the demo's batch calls
            # never search the web.
            components = [c for c in TOKEN_COMPONENTS if PRICE_KEYS[c] in batch_keys]
        return _unit_prices_of(resolved, components, f"{provider} {model} on {day}")

    def call_cost(
        self,
        provider: str,
        model: str,
        occurred_at: dt.datetime,
        tokens: tuple[int, int, int, int, int, int],
        batch: bool,
    ) -> Decimal:
        """Price one call with `genai_prices.calc_price`.

        `tokens` is (input_uncached, cache_read, cache_write_5m, cache_write_1h, output,
        web_search_requests).
        """
        uncached, cache_read, write_5m, write_1h, output, web_searches = tokens
        usage = Usage(
            input_tokens=uncached + cache_read + write_5m + write_1h,
            cache_read_tokens=cache_read,
            cache_write_tokens=write_5m + write_1h,
            cache_write_1h_tokens=write_1h,
            output_tokens=output,
            web_searches=web_searches,
        )
        calculation = calc_price(
            usage,
            model,
            provider_id=provider,
            genai_request_timestamp=occurred_at,
            price_context=BATCH_CONTEXT if batch else None,
        )
        return calculation.total_price

    def price_changes(
        self, provider: str, model: str, first_day: dt.date, last_day: dt.date
    ) -> list[PriceChange]:
        """Return the standard price changes of `model` in (`first_day`, `last_day`]."""
        info = self.model_info(provider, model)
        if not isinstance(info.prices, list):
            return []
        changes = []
        for conditional in info.prices:
            start = _start_date(conditional)
            if start is None or not first_day < start <= last_day:
                continue
            old = info.get_prices(noon(start - dt.timedelta(days=1)))
            new = info.get_prices(noon(start))
            label = f"{provider} {model}"
            changes.append(
                PriceChange(
                    provider=provider,
                    model=model,
                    date=start,
                    old=_unit_prices_of(old, list(PRICE_KEYS), label).standard,
                    new=_unit_prices_of(new, list(PRICE_KEYS), label).standard,
                )
            )
        return changes


def _start_date(conditional: ConditionalPrice) -> dt.date | None:
    constraint = conditional.constraint
    return constraint.start_date if isinstance(constraint, StartDateConstraint) else None


def _active_batch_price_keys(info: ModelInfo, timestamp: dt.datetime) -> set[str]:
    for variant in info.price_variants or ():
        if variant.when != BATCH_CONTEXT:
            continue
        if variant.constraint is not None and not variant.constraint.active(timestamp):
            continue
        return {key for key, value in variant.prices.__dict__.items() if value is not None}
    return set()


def _unit_prices_of(prices: ModelPrice, components: list[str], label: str) -> UnitPrices:
    standard: dict[str, Decimal] = {}
    long: dict[str, Decimal] = {}
    thresholds: set[int] = set()
    for component in components:
        value = getattr(prices, PRICE_KEYS[component])
        if value is None:
            continue
        if isinstance(value, TieredPrices):
            if len(value.tiers) != 1:
                raise ValueError(
                    f"{label}: {component} has {len(value.tiers)} price tiers, expected 1"
                )
            standard[component] = value.base
            long[component] = value.tiers[0].price
            thresholds.add(value.tiers[0].start)
        else:
            standard[component] = value
            long[component] = value
    if len(thresholds) > 1:
        raise ValueError(f"{label}: price tiers start at different thresholds {sorted(thresholds)}")
    if not thresholds:
        return UnitPrices(standard=standard, long=None, long_threshold_tokens=None)
    return UnitPrices(standard=standard, long=long, long_threshold_tokens=thresholds.pop())
