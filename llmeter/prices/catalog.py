"""Read list prices from the installed genai-prices and turn them into price seed rows.

genai-prices stores one price set per model, optionally a list of dated price sets
(`ConditionalPrice` with a `StartDateConstraint`) and request-specific overrides
(`PriceVariant`, selected by a context such as `{"processing": "batch"}`). This module evaluates
them at every date genai-prices names for a model and writes one row per provider, model,
price component, service tier, long-context threshold and validity period.

Rules (also stated in `seeds/_seeds.yml`):

- A genai-prices price key that first appears at a later date is valid from the start of the
  history: genai-prices adds constraint dates when it adds data, and only a changed value is a
  price change. A key that disappears ends at that date (a long-context tier that was dropped).
- A price component uses the most specific price key genai-prices has, with the same fallbacks
  that `genai_prices.calc_price` applies: cache reads are priced as input without
  `cache_read_mtok`, cache writes as `cache_write_mtok` or else input.
- A service tier gets rows when genai-prices has a non-empty price variant for it: the keys the
  variant lists override the standard prices and every other key keeps its standard price, as
  in `genai_prices.calc_price(..., price_context=...)`.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from genai_prices import types as genai_types
from genai_prices.data import providers as genai_providers

PROVIDERS = ("anthropic", "google", "openai")
HISTORY_START = dt.datetime(2023, 1, 1)
"""valid_from_at of a price that was in force before the history genai-prices records."""

PER_MILLION_TOKENS = "per_million_tokens"
PER_THOUSAND_REQUESTS = "per_thousand_requests"

COMPONENT_PRICE_KEYS: dict[str, tuple[str, ...]] = {
    "input_uncached": ("input_mtok",),
    "cache_read": ("cache_read_mtok", "input_mtok"),
    "cache_write_5m": ("cache_write_5m_mtok", "cache_write_mtok", "input_mtok"),
    "cache_write_1h": ("cache_write_1h_mtok", "cache_write_mtok", "input_mtok"),
    "output": ("output_mtok",),
    "web_search_request": ("web_searches_kcount",),
}
"""genai-prices price keys of each price component, the most specific first."""

COMPONENT_UNITS = {
    component: PER_THOUSAND_REQUESTS if component == "web_search_request" else PER_MILLION_TOKENS
    for component in COMPONENT_PRICE_KEYS
}

CARRIED_PRICE_KEYS = frozenset(key for keys in COMPONENT_PRICE_KEYS.values() for key in keys)

SERVICE_TIER_CONTEXTS: dict[str, dict[str, str]] = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}
"""The genai-prices price context of each canonical service tier that has variants.

Not carried: `{"service_tier": "fast"}` (OpenAI reports a fast request as `priority`, and the
variant has the priority prices), `{"service_tier": "default"}` (the standard prices) and
Anthropic's `{"speed": "fast"}` (fast mode, not a service tier of the vocabulary).
"""

PriceValue = Decimal | genai_types.TieredPrices
KeyPrices = dict[str, PriceValue]


@dataclass(frozen=True, order=True)
class PriceRow:
    """One row of `seeds/model_prices.csv`."""

    provider: str
    model: str
    price_component: str
    service_tier: str
    tier_threshold_tokens: int
    valid_from_at: dt.datetime
    valid_to_at: dt.datetime | None
    price_usd: Decimal
    unit: str
    source: str

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        """The columns that identify a price apart from its validity."""
        return (
            self.provider,
            self.model,
            self.price_component,
            self.service_tier,
            self.tier_threshold_tokens,
        )


def genai_prices_version() -> str:
    """Return the installed genai-prices version as the `source` column names it."""
    return f"genai-prices {importlib.metadata.version('genai-prices')}"


def _carried_prices(model_price: genai_types.ModelPrice) -> KeyPrices:
    return {
        key: value
        for key, value in vars(model_price).items()
        if key in CARRIED_PRICE_KEYS and value is not None
    }


def _change_dates(model: genai_types.ModelInfo) -> list[dt.date]:
    dates: set[dt.date] = set()
    conditional_prices = model.prices if isinstance(model.prices, list) else []
    constraints = [price.constraint for price in conditional_prices]
    constraints += [variant.constraint for variant in model.price_variants or ()]
    for constraint in constraints:
        if isinstance(constraint, genai_types.StartDateConstraint):
            dates.add(constraint.start_date)
        elif constraint is not None:
            raise ValueError(
                f"cannot write genai-prices model {model.id!r} to the price seed: its "
                f"{type(constraint).__name__} is not a start date"
            )
    return sorted(dates)


def _instant(day: dt.date | None) -> dt.datetime:
    if day is None:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _variant_overrides(
    model: genai_types.ModelInfo, context: Mapping[str, str], instant: dt.datetime
) -> KeyPrices:
    """Resolve the keys that the active variants for `context` override, as genai-prices does."""
    overrides: KeyPrices = {}
    for variant in model.price_variants or ():
        if variant.constraint is not None and not variant.constraint.active(instant):
            continue
        if not all(context.get(name) == value for name, value in variant.when.items()):
            continue
        for key, value in _carried_prices(variant.prices).items():
            overrides.setdefault(key, value)
    return overrides


def _backfill(snapshots: list[KeyPrices]) -> list[KeyPrices]:
    """Give every key its first known value at the dates before it first appears."""
    filled = [dict(snapshot) for snapshot in snapshots]
    for index, snapshot in enumerate(snapshots):
        for key, value in snapshot.items():
            for earlier in filled[:index]:
                earlier.setdefault(key, value)
    return filled


def _thresholds(value: PriceValue) -> dict[int, Decimal]:
    if isinstance(value, genai_types.TieredPrices):
        return {0: value.base, **{tier.start: tier.price for tier in value.tiers}}
    return {0: value}


def _component_prices(prices: KeyPrices) -> dict[str, tuple[str, dict[int, Decimal]]]:
    """Map each component to its price key and its price per long-context threshold."""
    components = {}
    for component, keys in COMPONENT_PRICE_KEYS.items():
        key = next((key for key in keys if key in prices), None)
        if key is not None:
            components[component] = (key, _thresholds(prices[key]))
    return components


def _tier_snapshots(
    model: genai_types.ModelInfo, points: list[dt.date | None]
) -> dict[str, list[tuple[KeyPrices, set[str]] | None]]:
    """Resolve each service tier's prices and variant keys at every evaluation date."""
    standard = _backfill([_carried_prices(model.get_prices(_instant(day))) for day in points])
    snapshots: dict[str, list[tuple[KeyPrices, set[str]] | None]] = {
        "standard": [(prices, set()) for prices in standard]
    }
    for tier, context in SERVICE_TIER_CONTEXTS.items():
        overrides = _backfill([_variant_overrides(model, context, _instant(day)) for day in points])
        if not any(overrides):
            continue
        snapshots[tier] = [
            ({**base, **override}, set(override)) if override else None
            for base, override in zip(standard, overrides, strict=True)
        ]
    return snapshots


def _source(version: str, tier: str, key: str, listed_keys: set[str]) -> str:
    if tier == "standard":
        return f"{version}: {key}"
    if key in listed_keys:
        return f"{version}: {tier} {key}"
    return f"{version}: {key} of the standard prices, no {tier} price"


def model_price_rows(provider: str, model: genai_types.ModelInfo, version: str) -> list[PriceRow]:
    """Build the price rows of one genai-prices model, dated changes as validity periods."""
    change_dates = _change_dates(model)
    points: list[dt.date | None] = [None, *change_dates]
    starts = [HISTORY_START, *(dt.datetime.combine(day, dt.time()) for day in change_dates)]

    rows: list[PriceRow] = []
    for tier, snapshots in _tier_snapshots(model, points).items():
        # One timeline per component and threshold: (price, source) at each evaluation date.
        timelines: dict[tuple[str, int], list[tuple[Decimal, str] | None]] = {}
        for index, snapshot in enumerate(snapshots):
            if snapshot is None:
                continue
            prices, listed_keys = snapshot
            for component, (key, by_threshold) in _component_prices(prices).items():
                for threshold, price in by_threshold.items():
                    timeline = timelines.setdefault((component, threshold), [None] * len(points))
                    timeline[index] = (price, _source(version, tier, key, listed_keys))

        for (component, threshold), timeline in timelines.items():
            rows += _timeline_rows(provider, model.id, component, tier, threshold, timeline, starts)
    return rows


def _timeline_rows(
    provider: str,
    model_id: str,
    component: str,
    tier: str,
    threshold: int,
    timeline: list[tuple[Decimal, str] | None],
    starts: list[dt.datetime],
) -> list[PriceRow]:
    """Merge equal consecutive prices of a timeline into rows with validity periods."""
    rows: list[PriceRow] = []
    open_index: int | None = None
    for index in range(len(timeline) + 1):
        current = timeline[index] if index < len(timeline) else None
        if open_index is not None:
            opened = timeline[open_index]
            assert opened is not None
            if current is not None and current[0] == opened[0]:
                continue
            rows.append(
                PriceRow(
                    provider=provider,
                    model=model_id,
                    price_component=component,
                    service_tier=tier,
                    tier_threshold_tokens=threshold,
                    valid_from_at=starts[open_index],
                    valid_to_at=starts[index] if index < len(timeline) else None,
                    price_usd=opened[0],
                    unit=COMPONENT_UNITS[component],
                    source=opened[1],
                )
            )
            open_index = None
        if current is not None:
            open_index = index
    return rows


def provider_models(
    provider_ids: Iterable[str] = PROVIDERS,
) -> list[tuple[str, genai_types.ModelInfo]]:
    """List the (provider, model) pairs of the installed genai-prices in its own order."""
    wanted = set(provider_ids)
    return [
        (provider.id, model)
        for provider in genai_providers
        if provider.id in wanted
        for model in provider.models
    ]


def genai_price_rows(provider_ids: Iterable[str] = PROVIDERS) -> list[PriceRow]:
    """Build every price row the installed genai-prices gives for the providers, sorted."""
    version = genai_prices_version()
    rows: list[PriceRow] = []
    for provider, model in provider_models(provider_ids):
        rows += model_price_rows(provider, model, version)
    return sorted(rows)
