"""The invoice reconciliation on a hand-made warehouse with one fault per invoice.

One warehouse is built for the module. Its upstream tables have their contract shapes, and the
real invoices source loads its invoice files. Real dbt builds the reconciliation models, the real
publish step publishes the file, and the real Great Expectations step checks it.

The amounts (see `tests/reconciliation_warehouse.py` for the daily split):

| provider  | invoice   | period           | billed a day | subtotal | fault                  |
|-----------|-----------|------------------|--------------|----------|------------------------|
| openai    | INV-OA-09 | 2026-09          | $10.00       | $300.40  | none ($0.40 < $1.502)  |
| openai    | INV-OA-10 | 2026-10          | $10.00       | $360.00  | invoice $50.00 higher  |
| anthropic | INV-AN-09 | 2026-09          | $700.00      | $210.00  | cost data 100x too big |
| anthropic | INV-AN-10 | 2026-10          | $7.00        | $217.00  | no cost for 2026-10-15 |
| google    | INV-G-08  | 2026-08          | none         | $25.00   | invoice without usage  |
| google    | none      | 2026-11-01 to 14 | $2.00        | none     | pending, not a fault   |

INV-OA-09 first arrives with a wrong subtotal of $290.00; a newer file corrects it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.checks import run_checks
from llmeter.publish import run_publish
from llmeter.settings import Settings
from llmeter.steps import StepFailedError
from pipelines.invoices import extract
from tests.reconciliation_warehouse import (
    PROJECT_ROOT,
    ProviderDays,
    build_reconciliation,
    create_upstream_tables,
    insert_costs,
    make_context,
    make_settings,
    write_invoice_file,
)

pytestmark = pytest.mark.slow

AS_OF = dt.date(2026, 11, 15)


@dataclass
class FaultyBuild:
    """The built warehouse and the outcome of the check step on its published copy."""

    settings: Settings
    check_error: StepFailedError


def _build(root: Path) -> FaultyBuild:
    settings = make_settings(root, as_of_date=AS_OF, project_root=root)
    day = dt.date
    create_upstream_tables(settings.warehouse_path)
    insert_costs(
        settings.warehouse_path,
        [
            ProviderDays("openai", day(2026, 9, 1), day(2026, 10, 31), Decimal("10.00")),
            ProviderDays("anthropic", day(2026, 9, 1), day(2026, 9, 30), Decimal("700.00")),
            ProviderDays(
                "anthropic",
                day(2026, 10, 1),
                day(2026, 10, 31),
                Decimal("7.00"),
                missing_cost_dates=frozenset({day(2026, 10, 15)}),
            ),
            ProviderDays("google", day(2026, 11, 1), day(2026, 11, 14), Decimal("2.00")),
        ],
    )

    folder = root / "invoices"
    write_invoice_file(
        folder / "2026-10-invoices.csv",
        ["openai,INV-OA-09,2026-09-01,2026-09-30,USD,290.00,0,0,290.00"],
        modified_at=dt.datetime(2026, 10, 2),
    )
    write_invoice_file(
        folder / "2026-11-invoices.csv",
        [
            "openai,INV-OA-09,2026-09-01,2026-09-30,USD,300.40,10.00,0,290.40",
            "openai,INV-OA-10,2026-10-01,2026-10-31,USD,360.00,0,0,360.00",
            "anthropic,INV-AN-09,2026-09-01,2026-09-30,USD,210.00,0,0,210.00",
            "anthropic,INV-AN-10,2026-10-01,2026-10-31,USD,217.00,0,0,217.00",
            "google,INV-G-08,2026-08-01,2026-08-31,USD,25.00,0,0,25.00",
            "openai,INV-EUR-10,2026-10-01,2026-10-31,EUR,10.00,0,0,10.00",
        ],
        modified_at=dt.datetime(2026, 11, 2),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCES__INVOICES__BUCKET_URL", str(folder))
        extract(make_context(settings, "extract"))

    build_reconciliation(settings, root / "target")
    run_publish(make_context(settings, "publish"))

    (root / "gx").mkdir()
    shutil.copy(PROJECT_ROOT / "gx" / "great_expectations.yml", root / "gx")
    with pytest.raises(StepFailedError) as failure:
        run_checks(make_context(settings, "check"))
    return FaultyBuild(settings=settings, check_error=failure.value)


@pytest.fixture(scope="module")
def faulty_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyBuild]:
    yield _build(tmp_path_factory.mktemp("reconciliation"))


def _rows(settings: Settings, model: str, key: str) -> dict[Any, dict[str, Any]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        relation = connection.sql(f"select * from marts.{model}")
        names = relation.columns
        return {
            row[names.index(key)]: dict(zip(names, row, strict=True)) for row in relation.fetchall()
        }


@pytest.fixture(scope="module")
def invoices(faulty_build: FaultyBuild) -> dict[Any, dict[str, Any]]:
    """The invoice rows of `fct_invoice_reconciliation` by invoice id (pending rows: None)."""
    return _rows(faulty_build.settings, "fct_invoice_reconciliation", "invoice_id")


@pytest.fixture(scope="module")
def check_message(faulty_build: FaultyBuild) -> str:
    return str(faulty_build.check_error)


def test_mart_rows_per_invoice_and_month(invoices: dict[Any, Any]) -> None:
    assert sorted(invoices, key=str) == [
        "INV-AN-09",
        "INV-AN-10",
        "INV-G-08",
        "INV-OA-09",
        "INV-OA-10",
        None,
    ]


def test_reconciling_invoice(invoices: dict[Any, Any]) -> None:
    row = invoices["INV-OA-09"]

    assert row["status"] == "reconciled"
    assert row["invoice_usage_subtotal_usd"] == Decimal("300.40")
    assert row["billed_cost_usd"] == Decimal("300.00")
    assert row["allocated_cost_usd"] == Decimal("300.00")
    # tagged calls only: (60% + 30%) x 80% of $10.00 a day, 30 days
    assert row["list_cost_usd"] == Decimal("216.00")
    assert row["billed_difference_usd"] == Decimal("-0.40")
    # the larger of $1.00 and 0.5% of $300.40
    assert row["tolerance_usd"] == Decimal("1.502")
    assert row["is_billed_within_tolerance"] is True
    assert row["is_allocated_within_tolerance"] is True
    assert row["unattributed_pct"] == pytest.approx(10.0)
    assert row["likely_cause"] is None


def test_corrected_invoice_replaces_first_version(invoices: dict[Any, Any]) -> None:
    assert invoices["INV-OA-09"]["invoice_usage_subtotal_usd"] == Decimal("300.40")
    assert invoices["INV-OA-09"]["invoice_credits_usd"] == Decimal("10.00")
    assert invoices["INV-OA-09"]["invoice_total_usd"] == Decimal("290.40")


def test_invoice_fifty_dollars_higher(invoices: dict[Any, Any]) -> None:
    row = invoices["INV-OA-10"]

    assert row["status"] == "out_of_tolerance"
    assert row["billed_cost_usd"] == Decimal("310.00")
    assert row["billed_difference_usd"] == Decimal("-50.00")
    assert row["billed_difference_pct"] == pytest.approx(-50 / 360 * 100)
    assert row["allocated_difference_usd"] == Decimal("-50.00")
    assert row["tolerance_usd"] == Decimal("1.80")
    assert row["is_billed_within_tolerance"] is False
    assert row["likely_cause"] is None


def test_cost_in_cents_read_as_dollars(invoices: dict[Any, Any]) -> None:
    row = invoices["INV-AN-09"]

    assert row["status"] == "out_of_tolerance"
    assert row["billed_cost_usd"] == Decimal("21000.00")
    assert row["likely_cause"] == "cents_dollars_mixup"


def test_missing_cost_day(invoices: dict[Any, Any]) -> None:
    row = invoices["INV-AN-10"]

    assert row["status"] == "out_of_tolerance"
    assert row["billed_cost_usd"] == Decimal("210.00")
    assert row["billed_cost_days"] == 30
    assert row["usage_days"] == 31
    assert row["billed_difference_usd"] == Decimal("-7.00")
    assert row["likely_cause"] == "missing_cost_day"
    assert row["likely_cause_date"] == dt.date(2026, 10, 15)
    assert row["missing_cost_dates"] == "2026-10-15"
    # the mean of 2026-10-14 and 2026-10-16, $7.00 each
    assert row["missing_cost_estimated_usd"] == Decimal("7.00")


def test_invoice_without_usage(invoices: dict[Any, Any]) -> None:
    row = invoices["INV-G-08"]

    assert row["status"] == "invoice_without_usage"
    assert row["usage_days"] == 0
    assert row["billed_cost_usd"] == Decimal("0")


def test_usage_without_invoice_is_pending(invoices: dict[Any, Any]) -> None:
    row = invoices[None]

    assert row["provider"] == "google"
    assert row["status"] == "pending"
    assert row["period_start_date"] == dt.date(2026, 11, 1)
    assert row["period_end_date"] == dt.date(2026, 11, 30)
    assert row["usage_days"] == 14
    assert row["billed_cost_usd"] == Decimal("28.00")
    assert row["billed_difference_usd"] is None
    assert row["is_billed_within_tolerance"] is None


def test_monthly_rollup(faulty_build: FaultyBuild) -> None:
    rows = _rows(
        faulty_build.settings, "fct_invoice_reconciliation_monthly", "reconciliation_month_id"
    )
    by_month = {(row["provider"], row["month_start_date"]): row for row in rows.values()}

    september = by_month[("openai", dt.date(2026, 9, 1))]
    assert september["status"] == "reconciled"
    assert september["is_calendar_month_aligned"] is True
    assert september["invoice_usage_subtotal_usd"] == Decimal("300.40")
    assert september["billed_cost_usd"] == Decimal("300.00")
    november = by_month[("google", dt.date(2026, 11, 1))]
    assert november["status"] == "pending"
    assert november["invoice_count"] == 0
    assert by_month[("anthropic", dt.date(2026, 10, 1))]["status"] == "out_of_tolerance"
    assert by_month[("google", dt.date(2026, 8, 1))]["status"] == "invoice_without_usage"
    assert len(by_month) == 6


def test_check_names_invoice_fifty_dollars_higher(check_message: str) -> None:
    assert (
        "openai invoice INV-OA-10 for 2026-10-01 to 2026-10-31: out of tolerance; "
        "invoice usage subtotal $360.00; provider-billed cost $310.00, difference -$50.00 "
        "(-13.89%): the invoice is $50.00 higher; tolerance $1.80"
    ) in check_message


def test_check_hints_cents_read_as_dollars(check_message: str) -> None:
    assert (
        "anthropic invoice INV-AN-09 for 2026-09-01 to 2026-09-30: out of tolerance; "
        "invoice usage subtotal $210.00; provider-billed cost $21,000.00"
    ) in check_message
    assert (
        "Likely cause: the provider-billed cost is 100.0 times the invoice, so an amount in cents "
        "was likely read as dollars (the Anthropic cost report states amounts in cents)"
    ) in check_message


def test_check_names_missing_day(check_message: str) -> None:
    assert (
        "anthropic invoice INV-AN-10 for 2026-10-01 to 2026-10-31: out of tolerance; "
        "invoice usage subtotal $217.00; provider-billed cost $210.00, difference -$7.00"
    ) in check_message
    assert (
        "Likely cause: the provider's cost data has no rows for 2026-10-15 (estimated at $7.00 "
        "from the neighbouring days), so that day is likely missing"
    ) in check_message


def test_check_flags_invoice_without_usage(check_message: str) -> None:
    assert (
        "google invoice INV-G-08 for 2026-08-01 to 2026-08-31: invoice usage subtotal $25.00, "
        "but no provider cost data and no customer costs exist for any day of the period"
    ) in check_message


def test_check_passes_reconciled_and_pending_rows(check_message: str) -> None:
    assert "INV-OA-09" not in check_message
    assert "2026-11-01" not in check_message
    assert check_message.startswith("4 GX check failures:")


def test_check_records_failed_expectations(faulty_build: FaultyBuild) -> None:
    subjects = {subject.subject: subject for subject in faulty_build.check_error.subjects}
    reconciliation = subjects["gx:fct_invoice_reconciliation"]

    assert reconciliation.status == "failed"
    assert reconciliation.details["row_count"] == 6
    failed = [
        (item["expectation_type"], item["kwargs"]["column"], item["unexpected_count"])
        for item in reconciliation.details["failed_expectations"]
    ]
    assert failed == [
        ("expect_column_values_to_not_be_in_set", "status", 3),
        ("expect_column_values_to_not_be_in_set", "status", 1),
        # the three out-of-tolerance invoices and the invoice without usage
        ("expect_column_values_to_be_in_set", "is_billed_within_tolerance", 4),
        ("expect_column_values_to_be_in_set", "is_allocated_within_tolerance", 4),
    ]
    assert subjects["gx:fct_invoice_reconciliation_monthly"].status == "succeeded"
    assert subjects["gx:fct_customer_daily_costs"].status == "succeeded"


def test_check_writes_data_docs(faulty_build: FaultyBuild, check_message: str) -> None:
    index = faulty_build.settings.warehouse_path.parent / "data_docs" / "index.html"

    assert index.is_file()
    assert f"Data Docs: {index.as_uri()}" in check_message
