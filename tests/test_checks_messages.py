"""Reconciliation failure messages and the reading of GX's exception records, without GX runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from llmeter.checks.messages import describe_reconciliation_row, format_usd
from llmeter.checks.results import exception_messages


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "provider": "openai",
        "invoice_id": "INV-1",
        "period_start_date": dt.date(2026, 10, 1),
        "period_end_date": dt.date(2026, 10, 31),
        "status": "out_of_tolerance",
        "invoice_usage_subtotal_usd": Decimal("360.000000000000000000"),
        "billed_cost_usd": Decimal("310.000000000000000000"),
        "allocated_cost_usd": Decimal("310.000000000000000000"),
        "billed_difference_usd": Decimal("-50.000000000000000000"),
        "allocated_difference_usd": Decimal("-50.000000000000000000"),
        "tolerance_usd": Decimal("1.800000000000000000"),
        "likely_cause": None,
        "likely_cause_date": None,
        "missing_cost_dates": None,
        "missing_cost_estimated_usd": None,
    }
    row.update(changes)
    return row


def test_format_usd_rounds_to_cents() -> None:
    assert format_usd(Decimal("1234.505")) == "$1,234.51"
    assert format_usd(Decimal("-0.004")) == "$0.00"
    assert format_usd(Decimal("-50")) == "-$50.00"
    assert format_usd(None) == "n/a"


def test_message_names_amounts_and_difference() -> None:
    assert describe_reconciliation_row(_row()) == (
        "openai invoice INV-1 for 2026-10-01 to 2026-10-31: out of tolerance; "
        "invoice usage subtotal $360.00; provider-billed cost $310.00, difference -$50.00 "
        "(-13.89%): the invoice is $50.00 higher; tolerance $1.80"
    )


def test_message_adds_allocated_cost_when_it_differs() -> None:
    message = describe_reconciliation_row(
        _row(
            billed_cost_usd=Decimal("360.00"),
            billed_difference_usd=Decimal("0"),
            allocated_cost_usd=Decimal("350.00"),
            allocated_difference_usd=Decimal("-10.00"),
        )
    )

    assert "provider-billed cost $360.00, difference $0.00 (0.00%); " in message
    assert "allocated cost $350.00, difference -$10.00 (-2.78%): the invoice is $10.00 higher" in (
        message
    )


def test_message_hints_invoice_entered_in_cents() -> None:
    message = describe_reconciliation_row(
        _row(
            invoice_usage_subtotal_usd=Decimal("31000.00"),
            billed_difference_usd=Decimal("-30690.00"),
            allocated_difference_usd=Decimal("-30690.00"),
            likely_cause="cents_dollars_mixup",
        )
    )

    assert message.endswith(
        "Likely cause: the invoice is 100.0 times the provider-billed cost, so the invoice amount "
        "was likely entered in cents, or a cost in dollars was read as cents"
    )


def test_message_names_several_missing_days() -> None:
    message = describe_reconciliation_row(
        _row(
            provider="anthropic",
            likely_cause="missing_cost_day",
            likely_cause_date=dt.date(2026, 10, 30),
            missing_cost_dates="2026-10-30, 2026-10-31",
            missing_cost_estimated_usd=None,
        )
    )

    assert message.endswith(
        "Likely cause: the provider's cost data has no rows for 2026-10-30, 2026-10-31, so those "
        "days are likely missing; extract the provider again for those days "
        "(llmeter extract anthropic --since 2026-10-30 --until 2026-10-31)"
    )


def test_message_names_day_matching_difference() -> None:
    message = describe_reconciliation_row(
        _row(likely_cause="one_day_difference", likely_cause_date=dt.date(2026, 10, 31))
    )

    assert message.endswith(
        "Likely cause: the difference equals the provider-billed cost of 2026-10-31, so one day "
        "is likely counted on one side only: check the invoice's period boundaries and time "
        "zone, or a day counted twice"
    )


def test_exception_record_at_top_level() -> None:
    info = {"raised_exception": True, "exception_message": "boom", "exception_traceback": "..."}

    assert exception_messages(info) == ["boom"]


def test_exception_records_keyed_by_metric() -> None:
    # the shape GX 1.24 reports for a metric that failed to resolve, such as a missing column
    info = {
        "MetricConfigurationID(metric_name='column_values.nonnull.condition')": {
            "raised_exception": True,
            "exception_message": 'Error: The column "x" in BatchData does not exist.',
        },
        "MetricConfigurationID(metric_name='column_values.between.condition')": {
            "raised_exception": True,
            "exception_message": 'Error: The column "x" in BatchData does not exist.',
        },
    }

    assert len(exception_messages(info)) == 2


def test_no_exception_record() -> None:
    assert exception_messages({"raised_exception": False, "exception_message": None}) == []
    assert exception_messages(None) == []


def test_message_names_allocated_cost_in_cents() -> None:
    message = describe_reconciliation_row(
        _row(
            provider="anthropic",
            billed_cost_usd=Decimal("360.00"),
            billed_difference_usd=Decimal("0"),
            allocated_cost_usd=Decimal("36000.00"),
            allocated_difference_usd=Decimal("35640.00"),
            likely_cause="cents_dollars_mixup",
        )
    )

    assert message.endswith(
        "Likely cause: the allocated cost is 100.0 times the invoice, so an amount in cents was "
        "likely read as dollars (the Anthropic cost report states amounts in cents)"
    )
