"""fct_cost_anomalies on a hand-made company, built by real dbt on DuckDB.

The company runs from Monday 2026-08-31 to Saturday 2026-10-31 (as-of date 2026-11-01). Its
customers call two OpenAI and two Anthropic models whose list prices are defined below. Every
customer's calls follow a weekday pattern, with 40% of a weekday's calls on weekend days, and a
customer's daily cost is its calls times the exact cost of one call. Each injected event has its
own customer:

- `runaway`: 1,250 calls a weekday ($10), 20 times as many on Wednesday 2026-10-21;
- `stops`: $20 a weekday until its calls stop on Wednesday 2026-10-14;
- `moves_up`: $3 a weekday on model-a until September, the same calls on model-b (10 times the
  price) from 2026-10-01, and a gross margin that turns negative in October;
- `price`: $30 a weekday on model-p, whose list price triples on 2026-10-20;
- `cache`: calls whose 90% cache hit rate falls to 0% on 2026-10-26;
- `newcomer`: signs up on 2026-10-20 and spends five times its usual amount on 2026-10-27;
- `noisy`: $30 a weekday with lognormal day-to-day noise (sigma 0.25), never an anomaly;
- `big_openai` and `big_anthropic`: steady large customers that keep provider totals stable.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.monitoring_warehouse import build, create_project, load_fixtures, query

FIRST_DAY = dt.date(2026, 8, 31)
LAST_DAY = dt.date(2026, 10, 31)
AS_OF = "2026-11-01"
MILLION = Decimal(1_000_000)

# List prices in US dollars per million tokens: (input_uncached, cache_read, output).
OLD_PRICES = {
    ("openai", "model-a"): (Decimal(2), Decimal("0.2"), Decimal(8)),
    ("openai", "model-b"): (Decimal(20), Decimal(2), Decimal(80)),
    ("anthropic", "model-c"): (Decimal(3), Decimal("0.3"), Decimal(15)),
    ("anthropic", "model-p"): (Decimal(4), Decimal("0.4"), Decimal(20)),
}
PRICE_CHANGE_DAY = dt.date(2026, 10, 20)
NEW_MODEL_P_PRICES = (Decimal(12), Decimal("1.2"), Decimal(60))

# Tokens of one call: (input_uncached, cache_read, output).
PLAIN_CALL = (2000, 0, 500)
CACHED_CALL = (1000, 9000, 200)
UNCACHED_CALL = (10000, 0, 200)


def days() -> list[dt.date]:
    return [FIRST_DAY + dt.timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]


def weekday_share(day: dt.date) -> Decimal:
    return Decimal("0.4") if day.weekday() >= 5 else Decimal(1)


def prices_on(provider: str, model: str, day: dt.date) -> tuple[Decimal, Decimal, Decimal]:
    if (provider, model) == ("anthropic", "model-p") and day >= PRICE_CHANGE_DAY:
        return NEW_MODEL_P_PRICES
    return OLD_PRICES[(provider, model)]


def call_cost(provider: str, model: str, day: dt.date, call: tuple[int, int, int]) -> Decimal:
    uncached, cache_read, output = call
    input_price, cache_price, output_price = prices_on(provider, model, day)
    return (uncached * input_price + cache_read * cache_price + output * output_price) / MILLION


def cost_row(
    customer_id: str,
    day: dt.date,
    provider: str,
    model: str,
    calls: int,
    call: tuple[int, int, int],
) -> dict[str, Any]:
    # The cost marts name a model as the provider does, and its price-seed name has no date.
    priced_model = model.removesuffix("-20261001")
    cost = calls * call_cost(provider, priced_model, day, call)
    unattributed = customer_id == "(unattributed)"
    return {
        "customer_id": customer_id,
        "is_unattributed": unattributed,
        "usage_date": day,
        "provider": provider,
        "model": model,
        "requests": calls,
        "input_uncached_tokens": calls * call[0],
        "cache_read_tokens": calls * call[1],
        "output_tokens": calls * call[2],
        "list_cost_usd": None if unattributed else cost,
        "allocated_cost_usd": cost,
        "cost_basis": "billed",
    }


def weekday_calls(weekday_count: int, day: dt.date) -> int:
    return int(weekday_count * weekday_share(day))


def company_cost_rows() -> list[dict[str, Any]]:
    noise = random.Random(20261101)
    rows = []
    for day in days():
        rows.append(
            cost_row("big_openai", day, "openai", "model-a", weekday_calls(62_500, day), PLAIN_CALL)
        )
        rows.append(
            cost_row(
                "big_anthropic", day, "anthropic", "model-c", weekday_calls(40_000, day), PLAIN_CALL
            )
        )
        rows.append(
            cost_row(
                "(unattributed)", day, "openai", "model-a", weekday_calls(1_875, day), PLAIN_CALL
            )
        )

        runaway_calls = 25_000 if day == dt.date(2026, 10, 21) else weekday_calls(1_250, day)
        rows.append(cost_row("runaway", day, "openai", "model-a", runaway_calls, PLAIN_CALL))

        if day < dt.date(2026, 10, 14):
            rows.append(
                cost_row("stops", day, "openai", "model-a", weekday_calls(2_500, day), PLAIN_CALL)
            )

        model = "model-b" if day >= dt.date(2026, 10, 1) else "model-a"
        rows.append(cost_row("moves_up", day, "openai", model, weekday_calls(375, day), PLAIN_CALL))

        rows.append(
            cost_row(
                "price", day, "anthropic", "model-p-20261001", weekday_calls(1_000, day), PLAIN_CALL
            )
        )

        cache_call = UNCACHED_CALL if day >= dt.date(2026, 10, 26) else CACHED_CALL
        rows.append(
            cost_row("cache", day, "anthropic", "model-c", weekday_calls(1_150, day), cache_call)
        )

        if day >= dt.date(2026, 10, 20):
            usual = weekday_calls(1_000, day)
            calls = 5 * usual if day == dt.date(2026, 10, 27) else usual
            rows.append(cost_row("newcomer", day, "openai", "model-a", calls, PLAIN_CALL))

        factor = noise.lognormvariate(-(0.25**2) / 2, 0.25)
        noisy_calls = round(3_750 * weekday_share(day) * Decimal(str(factor)))
        rows.append(cost_row("noisy", day, "openai", "model-a", noisy_calls, PLAIN_CALL))
    return rows


def price_rows() -> list[dict[str, Any]]:
    rows = []
    components = ("input_uncached", "cache_read", "output")
    for (provider, model), prices in OLD_PRICES.items():
        changes = model == "model-p"
        for component, price in zip(components, prices, strict=True):
            rows.append(
                {
                    "provider": provider,
                    "model": model,
                    "price_component": component,
                    "service_tier": "standard",
                    "tier_threshold_tokens": 0,
                    "price_usd": price,
                    "unit": "per_million_tokens",
                    "valid_from_at": dt.datetime(2023, 1, 1),
                    "valid_to_at": dt.datetime(2026, 10, 20) if changes else None,
                    "price_source": "list",
                    "price_priority": 1,
                }
            )
    for component, price in zip(components, NEW_MODEL_P_PRICES, strict=True):
        rows.append(
            {
                "provider": "anthropic",
                "model": "model-p",
                "price_component": component,
                "service_tier": "standard",
                "tier_threshold_tokens": 0,
                "price_usd": price,
                "unit": "per_million_tokens",
                "valid_from_at": dt.datetime(2026, 10, 20),
                "valid_to_at": None,
                "price_source": "list",
                "price_priority": 1,
            }
        )
    return rows


def margin_rows() -> list[dict[str, Any]]:
    def margin(customer_id: str, month: dt.date, revenue: str, cost: str) -> dict[str, Any]:
        margin_usd = Decimal(revenue) - Decimal(cost)
        return {
            "customer_id": customer_id,
            "is_unattributed": False,
            "month_start_date": month,
            "is_complete_month": month < dt.date(2026, 11, 1),
            "revenue_usd": Decimal(revenue),
            "allocated_cost_usd": Decimal(cost),
            "gross_margin_usd": margin_usd,
            "is_unprofitable": margin_usd < 0,
        }

    september, october, november = dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    return [
        margin("moves_up", september, "299", "68.4"),
        margin("moves_up", october, "299", "684"),
        margin("noisy", september, "49", "80"),
        margin("noisy", october, "49", "90"),
        margin("runaway", october, "299", "290"),
        margin("runaway", november, "299", "400"),
    ]


def call_rows() -> list[dict[str, Any]]:
    """Return one tagged call, which names the price-seed model of `model-p-20261001`."""
    return [
        {
            "event_id": "evt-price",
            "occurred_at": dt.datetime(2026, 10, 1, 12),
            "usage_date": dt.date(2026, 10, 1),
            "provider": "anthropic",
            "model": "model-p-20261001",
            "priced_model": "model-p",
            "customer_id": "price",
            "input_uncached_tokens": 2000,
            "output_tokens": 500,
            "requests": 1,
            "service_tier": "standard",
            "context_tier": "standard",
            "sub_account_id": "(default)",
            "is_priced": True,
            "list_cost_usd": Decimal("0.018"),
        }
    ]


@pytest.fixture(scope="module")
def anomalies_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("monitoring_anomalies")
    create_project(project)
    warehouse = project / "monitoring.duckdb"
    load_fixtures(
        warehouse,
        {
            "fct_customer_daily_costs": company_cost_rows(),
            "int_model_prices": price_rows(),
            "fct_customer_monthly_margins": margin_rows(),
            "fct_llm_calls": call_rows(),
        },
    )
    result = build(project, warehouse, AS_OF, ["+fct_cost_anomalies"])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return warehouse


def anomaly(warehouse: Path, subject_id: str, anomaly_type: str) -> dict[str, Any]:
    columns = [
        "anomaly_date",
        "last_anomaly_date",
        "anomaly_days",
        "observed_value_usd",
        "expected_value_usd",
        "impact_pct",
        "robust_z_score",
        "baseline_days",
        "severity",
        "main_driver",
        "call_volume_effect",
        "tokens_per_call_effect",
        "model_mix_effect",
        "cache_hit_rate_effect",
        "price_change_effect",
    ]
    rows = query(
        warehouse,
        f"select {', '.join(columns)} from marts.fct_cost_anomalies "
        "where subject_type = 'customer' and subject_id = ? and anomaly_type = ?",
        [subject_id, anomaly_type],
    )
    assert len(rows) == 1, rows
    return dict(zip(columns, rows[0], strict=True))


@pytest.mark.slow
def test_anomalies_are_the_injected_events(anomalies_warehouse: Path) -> None:
    rows = query(
        anomalies_warehouse,
        "select subject_type, subject_id, anomaly_type, anomaly_date from marts.fct_cost_anomalies",
    )
    assert sorted(rows) == [
        ("customer", "cache", "cost_spike", dt.date(2026, 10, 26)),
        ("customer", "moves_up", "cost_spike", dt.date(2026, 10, 1)),
        ("customer", "moves_up", "turned_unprofitable", dt.date(2026, 10, 1)),
        ("customer", "newcomer", "cost_spike", dt.date(2026, 10, 27)),
        ("customer", "price", "cost_spike", dt.date(2026, 10, 20)),
        ("customer", "runaway", "cost_spike", dt.date(2026, 10, 21)),
        ("customer", "stops", "cost_drop", dt.date(2026, 10, 14)),
        # The runaway's calls also lift its provider's total past the 25% relative floor.
        ("provider", "openai", "cost_spike", dt.date(2026, 10, 21)),
    ]


@pytest.mark.slow
def test_runaway_day_is_volume_spike(anomalies_warehouse: Path) -> None:
    runaway = anomaly(anomalies_warehouse, "runaway", "cost_spike")
    # 25,000 calls of 2,000 input tokens at $2/M and 500 output tokens at $8/M.
    assert runaway["observed_value_usd"] == Decimal("200")
    assert runaway["expected_value_usd"] == pytest.approx(Decimal(10), rel=Decimal("0.02"))
    assert runaway["anomaly_days"] == 1
    assert runaway["main_driver"] == "call_volume"
    assert runaway["call_volume_effect"] == pytest.approx(math.log(20), abs=0.02)
    assert runaway["tokens_per_call_effect"] == pytest.approx(0.0, abs=1e-9)
    assert runaway["price_change_effect"] == pytest.approx(0.0, abs=1e-9)
    assert runaway["severity"] == "high"


@pytest.mark.slow
def test_stop_is_one_drop_to_zero(anomalies_warehouse: Path) -> None:
    stop = anomaly(anomalies_warehouse, "stops", "cost_drop")
    assert stop["observed_value_usd"] == Decimal(0)
    assert stop["expected_value_usd"] == pytest.approx(Decimal(20), rel=Decimal("0.02"))
    assert stop["impact_pct"] == Decimal("-100.00")
    assert stop["main_driver"] == "call_volume"
    assert stop["anomaly_days"] > 1
    assert stop["last_anomaly_date"] > dt.date(2026, 10, 14)


@pytest.mark.slow
def test_price_change_is_driver(anomalies_warehouse: Path) -> None:
    price = anomaly(anomalies_warehouse, "price", "cost_spike")
    # 1,000 calls at the tripled prices: (2,000 * $12 + 500 * $60) / 1M each.
    assert price["observed_value_usd"] == Decimal("54")
    assert price["main_driver"] == "price_change"
    assert price["price_change_effect"] == pytest.approx(round(math.log(3), 4), abs=1e-9)
    assert price["call_volume_effect"] == pytest.approx(0.0, abs=0.02)


@pytest.mark.slow
def test_cache_hit_rate_is_driver(anomalies_warehouse: Path) -> None:
    cache = anomaly(anomalies_warehouse, "cache", "cost_spike")
    assert cache["main_driver"] == "cache_hit_rate"
    # Per call at model-c's prices: 10,000 uncached input tokens and 200 output tokens cost
    # $0.033; at the baseline 90% hit rate, 1,000 uncached and 9,000 cached cost $0.0087.
    assert cache["cache_hit_rate_effect"] == pytest.approx(round(math.log(0.033 / 0.0087), 4))
    assert cache["price_change_effect"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow
def test_model_move_is_model_mix(anomalies_warehouse: Path) -> None:
    spike = anomaly(anomalies_warehouse, "moves_up", "cost_spike")
    assert spike["main_driver"] == "model_mix"
    assert spike["model_mix_effect"] == pytest.approx(round(math.log(10), 4))
    assert spike["observed_value_usd"] == Decimal("30")


@pytest.mark.slow
def test_unprofitable_month_is_october(anomalies_warehouse: Path) -> None:
    month = anomaly(anomalies_warehouse, "moves_up", "turned_unprofitable")
    assert month["anomaly_date"] == dt.date(2026, 10, 1)
    assert month["last_anomaly_date"] == dt.date(2026, 10, 31)
    assert month["observed_value_usd"] == Decimal("-385")
    assert month["expected_value_usd"] == Decimal("230.6")
    # A margin of -$385 on $299 of revenue is below -100%.
    assert month["severity"] == "high"
    assert month["main_driver"] == "model_mix"
    assert month["robust_z_score"] is None


@pytest.mark.slow
def test_newcomer_judged_by_floors(anomalies_warehouse: Path) -> None:
    newcomer = anomaly(anomalies_warehouse, "newcomer", "cost_spike")
    assert newcomer["robust_z_score"] is None
    assert newcomer["baseline_days"] == 7
    assert newcomer["observed_value_usd"] == Decimal("40")
    # A customer first seen after the first day of cost data is new, so its second day is judged.
    [(first_judged_day,)] = query(
        anomalies_warehouse,
        "select min(usage_date) from intermediate.int_cost_subject_days_scored "
        "where subject_id = 'newcomer'",
    )
    assert first_judged_day == dt.date(2026, 10, 21)
