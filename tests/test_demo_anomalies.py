"""The demo company's injected events, found by fct_cost_anomalies at the default thresholds.

The simulator writes its events to `ground_truth/events.json`: a runaway retry loop, a customer
whose calls stop, the gpt-5.6-sol price cut of 2026-08-21 (seen in the cost of a customer whose
calls all go to that model), and a customer that turns unprofitable after moving to a dearer
model. Each must be one anomaly with the right subject, date, type and main driver, and no
other anomaly may appear, except the same events seen from another side: the runaway day also
spikes its model's provider, the customer that moves to the dearer model also spikes on the
first day of the move, and a provider's total may show the price cut or the move.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.demo.catalog import DEAR_MODEL, MODELS
from tests.conftest import DemoBuild

pytestmark = pytest.mark.slow

AnomalyKey = tuple[str, str, str, dt.date, str | None]
"""(subject_type, subject_id, anomaly_type, anomaly_date, main_driver) of an anomaly."""


def _query(warehouse: Path, sql: str, parameters: list[Any] | None = None) -> list[Any]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, parameters or []).fetchall()


def _events(build: DemoBuild) -> dict[str, dict[str, Any]]:
    path = build.files / "ground_truth" / "events.json"
    listed = json.loads(path.read_text(encoding="utf-8"))["events"]
    events = {event["event"]: event for event in listed if event["event"] != "price_change"}
    # Only the price change that a customer's cost shows is an anomaly to find.
    [priced] = [
        event for event in listed if event["event"] == "price_change" and "customer_id" in event
    ]
    events["price_change"] = priced
    return events


def _anomalies(build: DemoBuild) -> set[AnomalyKey]:
    rows = _query(
        build.warehouse,
        "select subject_type, subject_id, anomaly_type, anomaly_date, main_driver "
        "from marts.fct_cost_anomalies",
    )
    return {tuple(row) for row in rows}  # type: ignore[misc]


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _runaway_provider_spike(events: dict[str, dict[str, Any]]) -> AnomalyKey:
    runaway = events["runaway_loop"]
    [model] = runaway["models"]
    provider = MODELS[model].provider
    return ("provider", provider, "cost_spike", _date(runaway["date"]), "call_volume")


def _move_spike(events: dict[str, dict[str, Any]]) -> AnomalyKey:
    unprofitable = events["turned_unprofitable"]
    return (
        "customer",
        unprofitable["customer_id"],
        "cost_spike",
        _date(unprofitable["date"]),
        "model_mix",
    )


def test_runaway_day_is_volume_spike(demo_build: DemoBuild) -> None:
    runaway = _events(demo_build)["runaway_loop"]
    expected = (
        "customer",
        runaway["customer_id"],
        "cost_spike",
        _date(runaway["date"]),
        "call_volume",
    )
    assert expected in _anomalies(demo_build)


def test_runaway_loop_repeats_one_model(demo_build: DemoBuild) -> None:
    runaway = _events(demo_build)["runaway_loop"]
    assert len(runaway["models"]) == 1
    assert runaway["loop_calls"] > 10 * runaway["median_daily_calls"]


def test_runaway_day_also_spikes_its_provider(demo_build: DemoBuild) -> None:
    events = _events(demo_build)
    assert _runaway_provider_spike(events) in _anomalies(demo_build)


def test_stop_is_volume_drop_on_weekday(demo_build: DemoBuild) -> None:
    stopped = _events(demo_build)["usage_stopped"]
    stop_date = _date(stopped["date"])
    expected = ("customer", stopped["customer_id"], "cost_drop", stop_date, "call_volume")
    assert stop_date.weekday() < 5
    assert expected in _anomalies(demo_build)


def test_price_cut_is_price_change_drop(demo_build: DemoBuild) -> None:
    priced = _events(demo_build)["price_change"]
    expected = ("customer", priced["customer_id"], "cost_drop", _date("2026-08-21"), "price_change")
    assert priced["model"] == "gpt-5.6-sol"
    assert priced["date"] == "2026-08-21"
    assert expected in _anomalies(demo_build)


def test_unprofitable_month_is_model_mix(demo_build: DemoBuild) -> None:
    unprofitable = _events(demo_build)["turned_unprofitable"]
    expected = (
        "customer",
        unprofitable["customer_id"],
        "turned_unprofitable",
        _date(unprofitable["date"]),
        "model_mix",
    )
    assert expected in _anomalies(demo_build)


def test_move_to_dearer_model_also_spikes_that_day(demo_build: DemoBuild) -> None:
    assert _move_spike(_events(demo_build)) in _anomalies(demo_build)


def _provider_views(events: dict[str, dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(provider, anomaly_type, event name) of the provider totals that may show an event."""
    priced = events["price_change"]
    return {
        (priced["provider"], "cost_drop", "price_change"),
        (MODELS[DEAR_MODEL].provider, "cost_spike", "turned_unprofitable"),
    }


def test_no_other_anomalies(demo_build: DemoBuild) -> None:
    events = _events(demo_build)
    runaway = events["runaway_loop"]
    stopped = events["usage_stopped"]
    priced = events["price_change"]
    unprofitable = events["turned_unprofitable"]
    expected = {
        ("customer", runaway["customer_id"], "cost_spike", _date(runaway["date"]), "call_volume"),
        _runaway_provider_spike(events),
        ("customer", stopped["customer_id"], "cost_drop", _date(stopped["date"]), "call_volume"),
        ("customer", priced["customer_id"], "cost_drop", _date(priced["date"]), "price_change"),
        (
            "customer",
            unprofitable["customer_id"],
            "turned_unprofitable",
            _date(unprofitable["date"]),
            "model_mix",
        ),
        _move_spike(events),
    }
    # A provider's total may show the price cut within its first week (the cut model is a
    # share of the provider's cost, so its drop crosses the thresholds on a later day), and
    # the move to the dear model on its first day.
    cut_week = {_date(priced["date"]) + dt.timedelta(days=offset) for offset in range(7)}
    views = _provider_views(events)
    others = _anomalies(demo_build) - expected
    for subject_type, subject_id, anomaly_type, anomaly_date, _driver in others:
        assert subject_type == "provider", (subject_id, anomaly_type, anomaly_date)
        if anomaly_type == "cost_drop":
            assert (subject_id, anomaly_type, "price_change") in views, subject_id
            assert anomaly_date in cut_week, anomaly_date
        else:
            assert (subject_id, anomaly_type, "turned_unprofitable") in views, subject_id
            assert anomaly_date == _date(unprofitable["date"]), anomaly_date
    assert expected <= _anomalies(demo_build)


def test_least_profitable_customers_of_last_month(demo_build: DemoBuild) -> None:
    unprofitable = _events(demo_build)["turned_unprofitable"]
    [(last_month,)] = _query(
        demo_build.published,
        "select max(month_start_date) from marts.fct_customer_monthly_margins "
        "where is_complete_month",
    )
    rows = _query(
        demo_build.published,
        "select customer_id, gross_margin_usd from marts.fct_customer_monthly_margins "
        "where month_start_date = ? and not is_unattributed "
        "order by gross_margin_usd, customer_id limit 5",
        [last_month],
    )
    assert last_month == _date(unprofitable["date"])
    assert len(rows) == 5
    assert rows[0][0] == unprofitable["customer_id"]
    assert rows[0][1] < Decimal(0)
