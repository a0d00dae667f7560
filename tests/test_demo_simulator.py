"""The demo company simulator: determinism, invariants of its files and the injected events.

Prices stated in these tests are those of genai-prices 0.2.3 (`genai_prices/data.py`), the
package the simulator prices every call with.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import statistics
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmeter.cli import main
from llmeter.demo.catalog import PLANS
from llmeter.demo.company import DemoOptions, complete_months
from llmeter.demo.pricing import PriceOracle
from llmeter.demo.simulator import generate_demo

TOKEN_FIELDS = (
    "input_uncached_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "web_search_requests",
)
MILLION = Decimal(1_000_000)
THOUSAND = Decimal(1_000)

# Standard (not batch) prices in USD per million tokens, web search per thousand requests:
# (input, cache read, 5-minute cache write, 1-hour cache write, output, web search).
HAND_PRICES = {
    "claude-haiku-4-5-20251001": ("1", "0.1", "1.25", "2", "5", "10"),
    "gpt-5.4-mini-2026-03-17": ("0.75", "0.075", None, None, "4.5", "10"),
    "gpt-4.1-mini-2025-04-14": ("0.4", "0.1", None, None, "1.6", "10"),
}
# gpt-5.6-sol before and from 2026-08-21; it has no 1-hour cache write price.
SOL_OLD_PRICES = ("5", "0.5", "6.25", None, "30", "10")
SOL_NEW_PRICES = ("4", "0.4", "5", None, "20", "10")
PRICE_CHANGE_DATE = "2026-08-21"
# genai-prices starts the batch prices of the demo's models on 2026-10-14.
FIRST_BATCH_DATE = "2026-10-14"

SMALL = DemoOptions(customers=12, days=30, calls_per_day=300, seed=7)
# 2026-08-18 to 2026-10-31: includes the gpt-5.6-sol price change, two complete months and
# the days with batch prices.
MEDIUM = DemoOptions(customers=12, days=75, calls_per_day=300, seed=7)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("demo")
    generate_demo(MEDIUM, output)
    return output


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("small_demo")
    generate_demo(SMALL, output)
    return output


@pytest.fixture(scope="module")
def records(demo: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file day, record) of every call log line of the medium demo."""
    return call_log_records(demo)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        return [json.loads(line, parse_float=Decimal) for line in file]


def call_log_records(demo: Path) -> list[tuple[str, dict[str, Any]]]:
    """Return (file day, record) for every call log line."""
    records: list[tuple[str, dict[str, Any]]] = []
    for path in sorted((demo / "call_logs").glob("*.ndjson")):
        records.extend((path.stem, record) for record in read_ndjson(path))
    return records


def utc_day(record: dict[str, Any]) -> str:
    occurred = dt.datetime.fromisoformat(record["occurred_at"])
    return occurred.astimezone(dt.UTC).date().isoformat()


def events_by_name(demo: Path) -> dict[str, dict[str, Any]]:
    events = json.loads((demo / "ground_truth" / "events.json").read_text(encoding="utf-8"))
    return {event["event"]: event for event in events["events"]}


def hand_cost(row: dict[str, str], prices: tuple[str | None, ...]) -> Decimal:
    """Price a ground-truth row's token sums; a class without a price must have no tokens."""
    columns = (
        "input_uncached_tokens",
        "cache_read_tokens",
        "cache_write_5m_tokens",
        "cache_write_1h_tokens",
        "output_tokens",
    )
    total = Decimal(0)
    for column, price in zip(columns, prices[:5], strict=True):
        quantity = int(row[column])
        if price is None:
            assert quantity == 0, f"{column} has no price but {quantity} tokens"
            continue
        total += quantity * Decimal(price) / MILLION
    assert prices[5] is not None
    return total + int(row["web_search_requests"]) * Decimal(prices[5]) / THOUSAND


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_same_options_write_identical_files(small_demo: Path, tmp_path: Path) -> None:
    generate_demo(SMALL, tmp_path)
    first = files_of(small_demo)
    second = files_of(tmp_path)

    # 30 call log files, 2 customer files, 1 invoice file, 8 provider files, 5 ground truth
    # files, the manifest and the marker file.
    assert len(first) == 30 + 18
    assert first.keys() == second.keys()
    for name, content in first.items():
        assert content == second[name], f"{name} differs between two runs with the same options"


def test_other_seed_writes_other_files(small_demo: Path, tmp_path: Path) -> None:
    generate_demo(DemoOptions(customers=12, days=30, calls_per_day=300, seed=8), tmp_path)
    seed7 = files_of(small_demo)
    seed8 = files_of(tmp_path)

    assert seed7["call_logs/2026-10-02.ndjson"] != seed8["call_logs/2026-10-02.ndjson"]
    assert seed7["customers/subscriptions.csv"] != seed8["customers/subscriptions.csv"]


def test_regeneration_removes_stale_call_logs(tmp_path: Path) -> None:
    generate_demo(DemoOptions(customers=6, days=20, calls_per_day=40), tmp_path)
    generate_demo(DemoOptions(customers=6, days=14, calls_per_day=40), tmp_path)

    assert len(list((tmp_path / "call_logs").glob("*.ndjson"))) == 14


def test_output_folder_of_other_files_rejected(tmp_path: Path) -> None:
    (tmp_path / "customers").mkdir()
    (tmp_path / "customers" / "crm_export.csv").write_text("id\n1\n", encoding="utf-8")

    with pytest.raises(ValueError, match="was not written by llmeter demo"):
        generate_demo(SMALL, tmp_path)
    assert (tmp_path / "customers" / "crm_export.csv").is_file()


def test_catalog_plans_match_plan_seed() -> None:
    seed = read_csv(Path(__file__).resolve().parents[1] / "seeds" / "plan_tiers.csv")

    assert [row["plan_id"] for row in seed] == list(PLANS)
    for row in seed:
        plan = PLANS[row["plan_id"]]
        assert row["plan_name"] == plan.plan_name
        assert row["billing_period"] == plan.billing_period
        assert Decimal(row["fee"]) == plan.fee
        included = row["included_requests_per_month"]
        assert (int(included) if included else None) == plan.included_requests_per_month
        assert Decimal(row["overage_price_per_1k_requests"]) == plan.overage_price_per_1k_requests


def test_untagged_share_between_5_and_10_percent(demo: Path, records: list[Any]) -> None:
    counts = json.loads((demo / "manifest.json").read_text(encoding="utf-8"))["counts"]
    share = counts["calls_untagged"] / counts["calls_total"]

    assert 0.05 <= share <= 0.10
    assert len(records) == counts["calls_tagged"]


def test_call_log_token_counts_are_non_negative_ints(records: list[Any]) -> None:
    for _, record in records:
        for field in TOKEN_FIELDS:
            value = record[field]
            assert type(value) is int, f"{field} of {record['event_id']} is {value!r}"
            assert value >= 0, f"{field} of {record['event_id']} is {value}"
        assert record["reasoning_tokens"] <= record["output_tokens"]


def test_call_log_records_carry_provider_dimensions(demo: Path, records: list[Any]) -> None:
    projects = {
        row["id"] for row in json.loads((demo / "provider/openai_projects.json").read_text())
    }
    workspaces = {
        row["id"] for row in json.loads((demo / "provider/anthropic_workspaces.json").read_text())
    }
    for _, record in records:
        if record["provider"] == "openai":
            assert record["project_id"] in projects
            assert record["workspace_id"] is None
            assert record["api_key_id"].startswith("key_")
            assert record["service_tier"] == "default"
        else:
            assert record["project_id"] is None
            assert record["workspace_id"] in workspaces
            assert record["api_key_id"].startswith("apikey_")
            assert record["service_tier"] == ("batch" if record["is_batch"] else "standard")
        assert record["tags"]["environment"] == "production"
        assert record["status"] == "ok"


def test_late_records_open_the_next_day_file(records: list[Any]) -> None:
    late = [(file_day, record) for file_day, record in records if utc_day(record) != file_day]

    assert 1 <= len(late) <= 5
    for file_day, record in late:
        next_day = dt.date.fromisoformat(utc_day(record)) + dt.timedelta(days=1)
        assert next_day.isoformat() == file_day


def test_some_records_use_a_local_offset(records: list[Any]) -> None:
    offsets = Counter(record["occurred_at"][-6:] for _, record in records)
    zulu = sum(count for suffix, count in offsets.items() if suffix.endswith("Z"))

    assert zulu > 0
    assert 0 < sum(offsets.values()) - zulu < zulu


def test_batch_calls_only_on_days_with_batch_prices(records: list[Any]) -> None:
    batch_days = {utc_day(record) for _, record in records if record["is_batch"]}

    assert batch_days
    assert min(batch_days) >= FIRST_BATCH_DATE


def test_ground_truth_cost_of_single_call_rows(demo: Path) -> None:
    # Rows with one request hold exactly one call, so the row's tokens are the call's tokens.
    # The rows are from before the first batch day, so every call is priced at the standard rate.
    rows = [
        row
        for row in read_csv(demo / "ground_truth" / "customer_daily_costs.csv")
        if row["requests"] == "1"
        and row["model"] in HAND_PRICES
        and row["usage_date"] < FIRST_BATCH_DATE
    ]

    assert len({row["model"] for row in rows}) == len(HAND_PRICES)
    for row in rows:
        assert Decimal(row["list_cost_usd"]) == hand_cost(row, HAND_PRICES[row["model"]]), row


def test_oracle_prices_long_context_call_at_tier_rate() -> None:
    # claude-sonnet-4-5: above 200,000 input tokens every token costs the long-context rate,
    # $6 input, $0.60 cache read and $22.50 output per million tokens:
    # 200,000 x 6 + 10,000 x 0.6 + 1,000 x 22.5 = 1.2 + 0.006 + 0.0225 = 1.2285 USD.
    oracle = PriceOracle()
    cost = oracle.call_cost(
        "anthropic",
        "claude-sonnet-4-5-20250929",
        dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC),
        (200_000, 10_000, 0, 0, 1_000, 0),
        batch=False,
    )

    assert cost == Decimal("1.2285")


def test_oracle_batch_prices_start_with_the_variant() -> None:
    oracle = PriceOracle()
    before = oracle.unit_prices("openai", "gpt-4.1-mini-2025-04-14", dt.date(2026, 10, 13), True)
    after = oracle.unit_prices("openai", "gpt-4.1-mini-2025-04-14", dt.date(2026, 10, 14), True)

    assert before is None
    assert after is not None
    # gpt-4.1-mini's batch variant prices input at $0.20 and output at $0.80, and no cache read.
    assert after.standard == {"input_uncached": Decimal("0.2"), "output": Decimal("0.8")}


def test_billed_cost_equals_ground_truth(demo: Path) -> None:
    truth = demo / "ground_truth"
    tagged = read_csv(truth / "customer_daily_costs.csv")
    untagged = read_csv(truth / "untagged_daily_costs.csv")
    openai_costs = read_ndjson(demo / "provider" / "openai_costs.ndjson")
    anthropic_costs = read_ndjson(demo / "provider" / "anthropic_costs.ndjson")

    def list_cost(provider: str) -> Decimal:
        rows = [row for row in tagged + untagged if row["provider"] == provider]
        return sum((Decimal(row["list_cost_usd"]) for row in rows), Decimal(0))

    openai_billed = sum((Decimal(row["amount_usd"]) for row in openai_costs), Decimal(0))
    anthropic_billed = sum(
        (Decimal(row["amount_cents"]) * Decimal("0.01") for row in anthropic_costs), Decimal(0)
    )
    # Anthropic rounds each cost row to 0.000001 cent, so each row is off by at most half of
    # that: 0.000000005 USD.
    bound = len(anthropic_costs) * Decimal("0.000000005")

    assert openai_billed == list_cost("openai")
    assert abs(anthropic_billed - list_cost("anthropic")) <= bound
    assert anthropic_billed != list_cost("anthropic")


def test_ground_truth_billed_costs_equal_provider_files(demo: Path) -> None:
    truth = read_csv(demo / "ground_truth" / "provider_costs_daily.csv")
    openai_billed = sum(
        (Decimal(row["amount_usd"]) for row in read_ndjson(demo / "provider/openai_costs.ndjson")),
        Decimal(0),
    )
    anthropic_cents = sum(
        (
            Decimal(row["amount_cents"])
            for row in read_ndjson(demo / "provider/anthropic_costs.ndjson")
        ),
        Decimal(0),
    )

    def truth_total(provider: str) -> Decimal:
        rows = [row for row in truth if row["provider"] == provider]
        return sum((Decimal(row["billed_cost_usd"]) for row in rows), Decimal(0))

    assert truth_total("openai") == openai_billed
    assert truth_total("anthropic") == anthropic_cents * Decimal("0.01")


def test_provider_usage_equals_tagged_plus_untagged_calls(demo: Path, records: list[Any]) -> None:
    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for _, record in records:
        totals = expected[(utc_day(record), record["provider"])]
        totals["requests"] += 1
        totals["input"] += sum(record[field] for field in TOKEN_FIELDS[:4])
        totals["output"] += record["output_tokens"]
        totals["web_searches"] += record["web_search_requests"]
    for job in read_csv(demo / "ground_truth" / "untagged_daily_costs.csv"):
        totals = expected[(job["usage_date"], job["provider"])]
        totals["requests"] += int(job["requests"])
        totals["input"] += sum(int(job[field]) for field in TOKEN_FIELDS[:4])
        totals["output"] += int(job["output_tokens"])
        totals["web_searches"] += int(job["web_search_requests"])

    actual: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for row in read_ndjson(demo / "provider" / "openai_usage.ndjson"):
        totals = actual[(row["date"], "openai")]
        if row["endpoint"] == "completions":
            totals["requests"] += row["num_model_requests"]
            totals["input"] += row["input_tokens"]
            totals["output"] += row["output_tokens"]
        else:
            totals["web_searches"] += row["num_requests"]
    for row in read_ndjson(demo / "provider" / "anthropic_usage.ndjson"):
        totals = actual[(row["date"], "anthropic")]
        cache = row["cache_creation"]
        totals["input"] += (
            row["uncached_input_tokens"]
            + row["cache_read_input_tokens"]
            + cache["ephemeral_5m_input_tokens"]
            + cache["ephemeral_1h_input_tokens"]
        )
        totals["output"] += row["output_tokens"]
        totals["web_searches"] += row["server_tool_use"]["web_search_requests"]

    assert len(actual) == 2 * MEDIUM.days
    for key, totals in actual.items():
        expected_totals = expected[key]
        if key[1] == "anthropic":
            # The usage report has no request count.
            del expected_totals["requests"]
        assert totals == expected_totals, key


def test_runaway_day_is_a_spike(demo: Path, records: list[Any]) -> None:
    event = events_by_name(demo)["runaway_loop"]
    per_day = Counter(
        utc_day(record) for _, record in records if record["customer_id"] == event["customer_id"]
    )
    days = [
        (MEDIUM.first_day + dt.timedelta(days=index)).isoformat() for index in range(MEDIUM.days)
    ]
    median = statistics.median(per_day[day] for day in days)

    assert event["anomaly_type"] == "cost_spike"
    assert event["driver"] == "call_volume"
    assert median > 0
    assert per_day[event["date"]] >= 15 * median


def test_stopped_customer_has_no_calls_from_its_date(demo: Path, records: list[Any]) -> None:
    event = events_by_name(demo)["usage_stopped"]
    days = {
        utc_day(record) for _, record in records if record["customer_id"] == event["customer_id"]
    }
    week_before = {
        (dt.date.fromisoformat(event["date"]) - dt.timedelta(days=offset)).isoformat()
        for offset in range(1, 8)
    }

    assert event["anomaly_type"] == "cost_drop"
    assert event["driver"] == "call_volume"
    assert max(days) < event["date"]
    assert days & week_before


def test_price_change_model_priced_old_then_new(demo: Path) -> None:
    event = events_by_name(demo)["price_change"]
    rows = [
        row
        for row in read_csv(demo / "ground_truth" / "customer_daily_costs.csv")
        if row["model"] == "gpt-5.6-sol"
    ]
    before = [row for row in rows if row["usage_date"] < PRICE_CHANGE_DATE]
    after = [row for row in rows if row["usage_date"] >= PRICE_CHANGE_DATE]

    assert (event["model"], event["date"]) == ("gpt-5.6-sol", PRICE_CHANGE_DATE)
    assert before
    assert after
    for row in before:
        assert Decimal(row["list_cost_usd"]) == hand_cost(row, SOL_OLD_PRICES), row
    for row in after:
        assert Decimal(row["list_cost_usd"]) == hand_cost(row, SOL_NEW_PRICES), row


def test_unprofitable_customer_costs_more_than_its_fee(demo: Path) -> None:
    event = events_by_name(demo)["turned_unprofitable"]
    costs: dict[str, Decimal] = defaultdict(Decimal)
    models_in_month = set()
    for row in read_csv(demo / "ground_truth" / "customer_daily_costs.csv"):
        if row["customer_id"] != event["customer_id"]:
            continue
        costs[row["usage_date"][:7]] += Decimal(row["list_cost_usd"])
        if row["usage_date"][:7] == event["month"]:
            models_in_month.add(row["model"])
    subscriptions = [
        row
        for row in read_csv(demo / "customers" / "subscriptions.csv")
        if row["customer_id"] == event["customer_id"]
    ]
    starter_fee = Decimal(49)

    assert event["month"] == "2026-10"
    assert [row["plan_id"] for row in subscriptions] == ["starter"]
    assert subscriptions[0]["discount_pct"] == ""
    assert models_in_month == {"claude-opus-4-7"}
    assert costs["2026-10"] > 2 * starter_fee
    assert costs["2026-09"] < starter_fee / 2


def test_subscriptions_do_not_overlap(demo: Path) -> None:
    by_customer: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_csv(demo / "customers" / "subscriptions.csv"):
        by_customer[row["customer_id"]].append(row)
    customers = {row["customer_id"] for row in read_csv(demo / "customers" / "customers.csv")}
    plans = {"free", "starter", "growth", "growth_annual", "enterprise"}

    assert set(by_customer) == customers
    for rows in by_customer.values():
        rows.sort(key=lambda row: row["start_date"])
        for row in rows:
            assert row["plan_id"] in plans
            if row["negotiated_fee"]:
                assert row["discount_pct"] == "", "a negotiated fee has no discount"
        for earlier, later in itertools.pairwise(rows):
            end = dt.date.fromisoformat(earlier["end_date"])
            assert later["start_date"] == (end + dt.timedelta(days=1)).isoformat()


def test_invoices_cover_complete_months(demo: Path) -> None:
    invoices = read_csv(demo / "invoices" / "invoices.csv")
    costs = read_csv(demo / "ground_truth" / "provider_costs_daily.csv")
    months = complete_months(MEDIUM.first_day, MEDIUM.last_day)

    assert [month.isoformat() for month in months] == ["2026-09-01", "2026-10-01"]
    assert len(invoices) == 4
    for invoice in invoices:
        billed = sum(
            (
                Decimal(row["billed_cost_usd"])
                for row in costs
                if row["provider"] == invoice["provider"]
                and invoice["period_start_date"] <= row["usage_date"] <= invoice["period_end_date"]
            ),
            Decimal(0),
        )
        subtotal = Decimal(invoice["usage_subtotal"])
        assert abs(subtotal - billed) <= Decimal("0.005")
        assert Decimal(invoice["total"]) == (
            subtotal - Decimal(invoice["credits"]) + Decimal(invoice["tax"])
        )


def test_demo_generate_only_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = main(
        [
            "demo",
            "--generate-only",
            "--customers",
            "6",
            "--days",
            "14",
            "--calls-per-day",
            "50",
            "--output",
            str(tmp_path),
        ]
    )
    printed = capsys.readouterr().out

    assert exit_code == 0
    assert f"Demo company written to {tmp_path}" in printed
    assert "2026-10-18 to 2026-10-31" in printed
    assert len(list((tmp_path / "call_logs").glob("*.ndjson"))) == 14


def test_demo_rejects_too_few_customers(tmp_path: Path) -> None:
    exit_code = main(["demo", "--generate-only", "--customers", "2", "--output", str(tmp_path)])

    assert exit_code == 2
