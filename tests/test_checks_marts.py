"""The check step on hand-made published files: failures, skipped marts, unevaluable checks.

Each test writes a published DuckDB file in the shape the publish step writes (schema `marts`)
and runs the real check step with a copy of the committed GX project.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.checks import run_checks
from llmeter.checks.suites import MART_CHECKS
from llmeter.settings import Settings
from llmeter.steps import StepFailedError, run_steps, step_named
from tests.reconciliation_warehouse import PROJECT_ROOT, make_context, make_settings

DAILY_COSTS = """
create table marts.fct_customer_daily_costs as
select
    'c-' || (i % 3) as customer_id,
    false as is_unattributed,
    date '2026-10-01' + cast(i // 3 as integer) as usage_date,
    'openai' as provider,
    'model-a' as model,
    cast(10 as bigint) as requests,
    cast(1.25 as decimal(38, 18)) as list_cost_usd,
    cast(1.50 as decimal(38, 18)) as allocated_cost_usd,
    'billed' as cost_basis
from range(30) as series(i)
"""

MARGINS = """
create table marts.{mart} as
select
    'c-1' as customer_id,
    date '2026-10-01' as margin_date,
    cast(10 as decimal(38, 18)) as revenue_usd,
    cast(4 as decimal(38, 18)) as allocated_cost_usd,
    cast({margin} as {margin_type}) as gross_margin_pct
"""
DAILY = "fct_customer_daily_margins"
MONTHLY = "fct_customer_monthly_margins"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose project root contains a copy of the committed GX project."""
    (tmp_path / "gx").mkdir()
    shutil.copy(PROJECT_ROOT / "gx" / "great_expectations.yml", tmp_path / "gx")
    return make_settings(tmp_path, as_of_date=dt.date(2026, 11, 1), project_root=tmp_path)


def _publish(settings: Settings, *statements: str) -> None:
    settings.published_path.parent.mkdir(parents=True, exist_ok=True)
    settings.published_path.unlink(missing_ok=True)
    with duckdb.connect(str(settings.published_path)) as connection:
        connection.execute("create schema marts")
        for statement in statements:
            connection.execute(statement)


def _failure(settings: Settings) -> StepFailedError:
    with pytest.raises(StepFailedError) as failure:
        run_checks(make_context(settings, "check"))
    return failure.value


def _subject(error: StepFailedError, mart: str) -> dict[str, Any]:
    (subject,) = [item for item in error.subjects if item.subject == f"gx:{mart}"]
    return {"status": subject.status, "message": subject.message, **subject.details}


def test_missing_published_file_fails(settings: Settings) -> None:
    error = _failure(settings)

    assert str(error) == (
        f"The published file {settings.published_path} does not exist; run `llmeter publish` first"
    )


def test_absent_marts_are_skipped(settings: Settings) -> None:
    _publish(settings, DAILY_COSTS)

    result = run_checks(make_context(settings, "check"))

    statuses = {subject.subject: subject.status for subject in result.subjects}
    assert statuses["gx:fct_customer_daily_costs"] == "succeeded"
    assert statuses["gx:fct_invoice_reconciliation"] == "skipped"
    assert statuses["gx:fct_customer_daily_margins"] == "skipped"
    assert len(statuses) == len(MART_CHECKS)
    assert result.status == "succeeded"
    assert result.message.startswith(f"1 marts checked, {len(MART_CHECKS) - 1} skipped.")


def test_negative_cost_fails(settings: Settings) -> None:
    _publish(
        settings,
        DAILY_COSTS,
        "update marts.fct_customer_daily_costs set allocated_cost_usd = -1.5 "
        "where customer_id = 'c-1' and usage_date = date '2026-10-02'",
    )

    error = _failure(settings)

    assert (
        "fct_customer_daily_costs: expect_column_values_to_be_between on allocated_cost_usd "
        "failed for 1 rows (for example -1.5)"
    ) in str(error)
    assert _subject(error, "fct_customer_daily_costs")["status"] == "failed"


def test_monthly_margin_below_range_fails(settings: Settings) -> None:
    _publish(settings, MARGINS.format(mart=MONTHLY, margin=-20000, margin_type="decimal(38, 6)"))

    error = _failure(settings)

    assert (
        "fct_customer_monthly_margins: expect_column_values_to_be_between on gross_margin_pct "
        "failed for 1 rows (for example -20000)"
    ) in str(error)


def test_daily_margin_above_range_fails(settings: Settings) -> None:
    _publish(settings, MARGINS.format(mart=DAILY, margin=150, margin_type="decimal(38, 6)"))

    error = _failure(settings)

    assert (
        "fct_customer_daily_margins: expect_column_values_to_be_between on gross_margin_pct "
        "failed for 1 rows (for example 150)"
    ) in str(error)


def test_margins_in_range_pass(settings: Settings) -> None:
    # a single day far below -10,000% is allowed; a month is not
    _publish(
        settings,
        MARGINS.format(mart=DAILY, margin=-20000, margin_type="decimal(38, 6)"),
        MARGINS.format(mart=MONTHLY, margin=60, margin_type="double"),
    )

    result = run_checks(make_context(settings, "check"))

    statuses = {subject.subject: subject.status for subject in result.subjects}
    assert statuses["gx:fct_customer_daily_margins"] == "succeeded"
    assert statuses["gx:fct_customer_monthly_margins"] == "succeeded"


def test_margin_stored_as_text_cannot_be_evaluated(settings: Settings) -> None:
    # GX 1.24 compares the text '60' with the bound -10000.0 and raises a TypeError inside its
    # metric code. The expectation then has no result, which must count as a failure.
    _publish(settings, MARGINS.format(mart=MONTHLY, margin="'60'", margin_type="varchar"))

    error = _failure(settings)

    details = _subject(error, MONTHLY)
    assert details["status"] == "failed"
    (failed,) = details["failed_expectations"]
    assert failed["problem"] == "raised"
    assert failed["kwargs"]["column"] == "gross_margin_pct"
    assert (
        "fct_customer_monthly_margins: expect_column_values_to_be_between on gross_margin_pct "
        "could not be evaluated: GX raised"
    ) in str(error)


def test_missing_required_column_cannot_be_evaluated(settings: Settings) -> None:
    _publish(
        settings,
        DAILY_COSTS,
        "alter table marts.fct_customer_daily_costs drop column allocated_cost_usd",
    )

    error = _failure(settings)

    assert (
        "fct_customer_daily_costs: expect_column_values_to_be_between on allocated_cost_usd "
        'could not be evaluated: GX raised Error: The column "allocated_cost_usd" in BatchData '
        "does not exist."
    ) in str(error)


def test_margins_mart_without_margin_column_fails(settings: Settings) -> None:
    _publish(
        settings,
        MARGINS.format(mart=MONTHLY, margin=60, margin_type="double"),
        f"alter table marts.{MONTHLY} drop column gross_margin_pct",
    )

    error = _failure(settings)

    assert "on margin_pct could not be evaluated" in str(error)


RECONCILIATION = """
create table marts.fct_invoice_reconciliation as
select
    'openai' as provider,
    'INV-1' as invoice_id,
    date '2026-09-01' as period_start_date,
    date '2026-09-30' as period_end_date,
    'reconciled' as status,
    true as is_billed_within_tolerance,
    true as is_allocated_within_tolerance,
    cast(300 as decimal(38, 18)) as invoice_usage_subtotal_usd,
    cast({billed} as decimal(38, 18)) as billed_cost_usd,
    cast(300 as decimal(38, 18)) as allocated_cost_usd,
    cast(200 as decimal(38, 18)) as list_cost_usd,
    cast(10 as double) as unattributed_pct
"""


def test_reconciliation_mart_missing_column_fails(settings: Settings) -> None:
    _publish(
        settings,
        RECONCILIATION.format(billed=300),
        "alter table marts.fct_invoice_reconciliation drop column is_allocated_within_tolerance",
    )

    error = _failure(settings)

    assert (
        "fct_invoice_reconciliation: expect_column_values_to_be_in_set on "
        "is_allocated_within_tolerance could not be evaluated"
    ) in str(error)
    assert str(error).startswith("1 GX check failures:")


def test_reconciliation_negative_cost_is_named(settings: Settings) -> None:
    # a reconciled row with a negative cost: the message names the expectation, not the invoice
    _publish(settings, RECONCILIATION.format(billed=-300))

    error = _failure(settings)

    assert str(error).startswith(
        "1 GX check failures:\n- fct_invoice_reconciliation: expect_column_values_to_be_between "
        "on billed_cost_usd failed for 1 rows (for example -300)"
    )
    assert "INV-1" not in str(error)


def _audit_details(settings: Settings, run_id: str, mart: str) -> dict[str, Any]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        (details,) = connection.execute(
            "select details from audit.run_audit where run_id = ? and subject = ?",
            [run_id, f"gx:{mart}"],
        ).fetchone() or (None,)
    parsed: dict[str, Any] = json.loads(details)
    return parsed


def test_row_count_drop_fails_once(settings: Settings) -> None:
    _publish(settings, DAILY_COSTS)
    check = [step_named("check")]
    first = make_context(settings, "check")
    first.run_id = "run-1"
    assert run_steps(first, check) is True

    _publish(
        settings,
        DAILY_COSTS,
        "delete from marts.fct_customer_daily_costs where requests > 0 "
        "and usage_date > date '2026-10-03'",
    )
    second = make_context(settings, "check")
    second.run_id = "run-2"
    third = make_context(settings, "check")
    third.run_id = "run-3"

    assert run_steps(second, check) is False
    assert run_steps(third, check) is True

    first_details = _audit_details(settings, "run-1", "fct_customer_daily_costs")
    assert first_details["row_count"] == 30
    assert first_details["previous_row_count"] is None
    assert first_details["row_count_max"] is None
    second_details = _audit_details(settings, "run-2", "fct_customer_daily_costs")
    assert second_details["row_count"] == 9
    assert second_details["previous_row_count"] == 30
    # 90% of 30 rows, less 10 rows of slack
    assert second_details["row_count_min"] == 17
    assert second_details["row_count_max"] == 70
    (failed,) = second_details["failed_expectations"]
    assert failed["expectation_type"] == "expect_table_row_count_to_be_between"
    assert failed["observed_value"] == 9
    assert _audit_details(settings, "run-3", "fct_customer_daily_costs")["previous_row_count"] == 9


def test_rerun_replaces_gx_objects(settings: Settings) -> None:
    _publish(settings, DAILY_COSTS, MARGINS.format(mart=DAILY, margin=60, margin_type="double"))
    committed_config = (PROJECT_ROOT / "gx" / "great_expectations.yml").read_text()

    run_checks(make_context(settings, "check"))
    run_checks(make_context(settings, "check"))

    output = settings.warehouse_path.parent / "gx_output"
    assert sorted(path.name for path in (output / "expectations").glob("*.json")) == [
        "fct_customer_daily_costs.json",
        "fct_customer_daily_margins.json",
    ]
    assert len(list((output / "validation_definitions").glob("*.json"))) == 2
    assert len(list((output / "checkpoints").glob("*.json"))) == 2
    assert (settings.warehouse_path.parent / "data_docs" / "index.html").is_file()
    # the project folder keeps only its committed configuration, unchanged
    project_folder = settings.project_root / "gx"
    assert [path.name for path in project_folder.iterdir()] == ["great_expectations.yml"]
    assert (project_folder / "great_expectations.yml").read_text() == committed_config


def test_missing_gx_project_fails(settings: Settings) -> None:
    _publish(settings, DAILY_COSTS)
    (settings.project_root / "gx" / "great_expectations.yml").unlink()

    with pytest.raises(FileNotFoundError, match=r"great_expectations\.yml is missing"):
        run_checks(make_context(settings, "check"))
