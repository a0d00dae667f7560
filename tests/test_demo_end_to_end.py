"""The demo company end to end: `llmeter demo` against the fake Admin APIs, checked against the
simulator's ground truth."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, DemoBuild
from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.slow

CENT = Decimal("0.01")


def _query(warehouse: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _ground_truth(build: DemoBuild, name: str) -> list[dict[str, str]]:
    with open(build.files / "ground_truth" / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_demo_run_succeeds_and_is_audited(demo_build: DemoBuild) -> None:
    rows = _query(
        demo_build.warehouse,
        "select step, status from audit.run_audit where subject = '' order by started_at, step",
    )
    statuses = dict(rows)
    assert statuses["run"] == "succeeded"
    for step in ("extract", "build", "publish", "check"):
        assert statuses[step] in {"succeeded", "warned"}, (step, statuses[step])


def test_extract_counts_balance(demo_build: DemoBuild) -> None:
    rows = _query(
        demo_build.warehouse,
        "select subject, rows_read, rows_loaded, rows_duplicate, rows_rejected "
        "from audit.run_audit where step = 'extract' and subject <> '' and rows_read is not null",
    )
    assert rows, "the extract step recorded no row counts"
    for subject, read, loaded, duplicate, rejected in rows:
        assert read == loaded + duplicate + rejected, subject


def test_call_logs_all_loaded(demo_build: DemoBuild) -> None:
    manifest = json.loads((demo_build.files / "manifest.json").read_text(encoding="utf-8"))
    tagged = manifest["counts"]["calls_tagged"]
    (loaded,) = _query(demo_build.warehouse, "select count(*) from raw_call_logs.llm_calls")[0]
    assert loaded == tagged


def test_provider_usage_matches_ground_truth(demo_build: DemoBuild) -> None:
    expected = {
        (
            row["provider"],
            row["usage_date"],
            row["model"],
            row["price_component"],
            row["service_tier"],
            row["context_tier"],
            row["sub_account_id"],
        ): int(row["quantity"])
        for row in _ground_truth(demo_build, "provider_usage_daily.csv")
    }
    actual = {
        tuple(str(value) for value in row[:7]): row[7]
        for row in _query(
            demo_build.warehouse,
            "select provider, usage_date, model, price_component, service_tier, context_tier, "
            "sub_account_id, quantity from intermediate.int_provider_usage_daily "
            "where quantity_unit = 'tokens' or price_component = 'web_search_request'",
        )
    }
    assert actual == expected


def test_provider_costs_match_ground_truth(demo_build: DemoBuild) -> None:
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in _ground_truth(demo_build, "provider_costs_daily.csv"):
        expected[row["provider"], row["usage_date"]] += Decimal(row["billed_cost_usd"])
    actual = {
        (str(provider), str(day)): total
        for provider, day, total in _query(
            demo_build.warehouse,
            "select provider, usage_date, sum(billed_cost_usd) "
            "from intermediate.int_provider_costs_daily group by all",
        )
    }
    assert actual == dict(expected)


def test_allocation_adds_up_to_billed_cost(demo_build: DemoBuild) -> None:
    rows = _query(
        demo_build.warehouse,
        """
        with billed as (
            select provider, usage_date, sum(billed_cost_usd) as billed_cost_usd
            from intermediate.int_provider_costs_daily
            group by all
        ),

        allocated as (
            select provider, usage_date, sum(allocated_cost_usd) as allocated_cost_usd
            from marts.fct_customer_daily_costs
            where cost_basis = 'billed'
            group by all
        )

        select billed.provider, billed.usage_date, billed_cost_usd, allocated_cost_usd
        from billed
        full outer join allocated
            on billed.provider = allocated.provider and billed.usage_date = allocated.usage_date
        """,
    )
    assert len(rows) > 0
    mismatches = [row for row in rows if row[2] != row[3]]
    assert mismatches == []


def test_customer_costs_match_ground_truth_to_the_cent(demo_build: DemoBuild) -> None:
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in _ground_truth(demo_build, "customer_daily_costs.csv"):
        expected[row["customer_id"], row["usage_date"]] += Decimal(row["list_cost_usd"])
    actual = {
        (str(customer), str(day)): cost
        for customer, day, cost in _query(
            demo_build.warehouse,
            "select customer_id, usage_date, sum(allocated_cost_usd) "
            "from marts.fct_customer_daily_costs where not is_unattributed group by all",
        )
    }
    assert set(actual) == set(expected)
    off_by_a_cent = {
        key: (actual[key], expected[key])
        for key in expected
        if abs(actual[key] - expected[key]) >= CENT
    }
    assert off_by_a_cent == {}


def test_published_file_has_the_marts(demo_build: DemoBuild) -> None:
    warehouse_tables = {
        row[0]
        for row in _query(
            demo_build.warehouse,
            "select table_name from information_schema.tables where table_schema = 'marts'",
        )
    }
    published_tables = {
        row[0]
        for row in _query(
            demo_build.published,
            "select table_name from information_schema.tables where table_schema = 'marts'",
        )
    }
    assert "fct_customer_daily_costs" in warehouse_tables
    assert warehouse_tables <= published_tables


def test_demo_summary_names_loss_makers(demo_build: DemoBuild) -> None:
    events = json.loads((demo_build.files / "ground_truth" / "events.json").read_text("utf-8"))
    unprofitable = next(
        event for event in events["events"] if event["event"] == "turned_unprofitable"
    )
    lines = demo_build.output.splitlines()
    header = lines.index("Least profitable customers in 2026-09, and why their cost rose:")
    first_customer = lines[header + 2]
    assert first_customer.split()[0] == unprofitable["customer_id"]
    assert "turned_unprofitable 2026-09-01 (model_mix)" in first_customer


def test_dbt_unit_tests_pass(demo_copy: DemoBuild) -> None:
    # The build step leaves the unit tests out, so they run here against the demo's tables.
    target = demo_copy.root / "unit-test-target"
    result = run_dbt(
        PROJECT_ROOT,
        ["test", "--select", "test_type:unit"],
        warehouse=demo_copy.warehouse,
        target_path=target,
        extra_env={"LLMETER_AS_OF": demo_copy.as_of},
    )

    assert result.returncode == 0, result.stdout[-6000:]
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    assert len(results) == 23
    assert {entry["status"] for entry in results} == {"pass"}
    assert all(entry["unique_id"].startswith("unit_test.") for entry in results)
