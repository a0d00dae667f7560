"""fct_cost_anomalies on a company whose daily cost never changes, built by real dbt on DuckDB.

Every day from 2026-09-07 to 2026-10-31 costs the same, so every weekday factor is exactly 1,
each baseline median is the flat amount and its MAD is 0, and the z-score divides by the MAD
floor (0.05). `small` spends $2.00 a day on OpenAI and $2.80 on 2026-10-15, a change of +40% and
+$0.80 that stays under both impact floors. `big`, the only Anthropic customer, spends $100.00 a
day and $300.00 on 2026-10-22.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.monitoring_warehouse import build, create_project, load_fixtures, query

FIRST_DAY = dt.date(2026, 9, 7)
DAYS = 55
SMALL_CHANGE_DAY = dt.date(2026, 10, 15)
BIG_SPIKE_DAY = dt.date(2026, 10, 22)
LOG_OFFSET = 0.01
MAD_FLOOR = 0.05


def flat_rows() -> list[dict[str, Any]]:
    rows = []
    for index in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=index)
        for customer_id, provider, cost in (
            ("small", "openai", Decimal("2.80") if day == SMALL_CHANGE_DAY else Decimal("2.00")),
            ("big", "anthropic", Decimal(300) if day == BIG_SPIKE_DAY else Decimal(100)),
        ):
            rows.append(
                {
                    "customer_id": customer_id,
                    "is_unattributed": False,
                    "usage_date": day,
                    "provider": provider,
                    "model": "model-f",
                    "requests": int(cost * 100),
                    "input_uncached_tokens": int(cost * 100_000),
                    "list_cost_usd": cost,
                    "allocated_cost_usd": cost,
                    "cost_basis": "billed",
                }
            )
    return rows


def modified_z(observed: float, expected: float) -> float:
    return 0.6745 * (math.log(observed + LOG_OFFSET) - math.log(expected + LOG_OFFSET)) / MAD_FLOOR


@pytest.fixture(scope="module")
def flat_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("monitoring_flat")
    create_project(project)
    warehouse = project / "monitoring.duckdb"
    load_fixtures(warehouse, {"fct_customer_daily_costs": flat_rows()})
    result = build(project, warehouse, "2026-11-01", ["+fct_cost_anomalies"])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return warehouse


@pytest.mark.slow
def test_flat_history_flags_only_big_spike(flat_warehouse: Path) -> None:
    rows = query(
        flat_warehouse,
        "select subject_type, subject_id, anomaly_type, anomaly_date from marts.fct_cost_anomalies",
    )
    assert sorted(rows) == [
        ("customer", "big", "cost_spike", BIG_SPIKE_DAY),
        ("provider", "anthropic", "cost_spike", BIG_SPIKE_DAY),
    ]


@pytest.mark.slow
def test_flat_history_weekday_factors_are_one(flat_warehouse: Path) -> None:
    factors = query(
        flat_warehouse,
        "select distinct weekday_factor from intermediate.int_cost_weekday_factors "
        "where judged_date <= ?",
        [SMALL_CHANGE_DAY],
    )
    assert factors == [(1.0,)]


@pytest.mark.slow
def test_small_change_scores_but_stays_under_floors(flat_warehouse: Path) -> None:
    [(expected, impact, z_score, anomaly_type)] = query(
        flat_warehouse,
        "select expected_cost_usd, impact_usd, robust_z_score, anomaly_type "
        "from intermediate.int_cost_subject_days_scored "
        "where subject_type = 'customer' and subject_id = 'small' and usage_date = ?",
        [SMALL_CHANGE_DAY],
    )
    assert expected == Decimal("2.000000")
    assert impact == Decimal("0.80")
    # 0.6745 * ln(2.81 / 2.01) / 0.05 = 4.52, past the z threshold but under both floors.
    assert z_score == pytest.approx(modified_z(2.80, 2.00))
    assert anomaly_type is None


@pytest.mark.slow
def test_big_spike_values(flat_warehouse: Path) -> None:
    [(observed, expected, impact_pct, z_score, severity, days)] = query(
        flat_warehouse,
        "select observed_value_usd, expected_value_usd, impact_pct, robust_z_score, severity, "
        "anomaly_days from marts.fct_cost_anomalies where subject_id = 'big'",
    )
    assert observed == Decimal(300)
    assert expected == Decimal(100)
    assert impact_pct == Decimal("200.00")
    # 0.6745 * ln(300.01 / 100.01) / 0.05 = 14.82
    assert z_score == pytest.approx(round(modified_z(300, 100), 2))
    assert severity == "high"
    assert days == 1


@pytest.mark.slow
def test_day_one_subject_waits_for_history(flat_warehouse: Path) -> None:
    # `big` has calls on the first day of cost data, so its earlier history is unknown. Its
    # first judged day is the one with 14 baseline days, two weeks after 2026-09-07.
    [(first_judged_day, baseline_days)] = query(
        flat_warehouse,
        "select min(usage_date), min(baseline_days) from intermediate.int_cost_subject_days_scored "
        "where subject_type = 'customer' and subject_id = 'big'",
    )
    assert first_judged_day == dt.date(2026, 9, 21)
    assert baseline_days == 14
