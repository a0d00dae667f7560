"""Failure messages for reconciliation rows: what differs, by how much, and the likely cause.

A message names the provider, the invoice and its period, the invoice's usage subtotal, the
computed amount that differs from it, the difference, and the likely cause the mart's
`likely_cause` column detected. Amounts are `Decimal`s rounded to cents for display only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

_CENT = Decimal("0.01")


def format_usd(amount: Any) -> str:
    """Format a US-dollar amount with a sign, thousands separators and cents: -$1,234.50."""
    if amount is None:
        return "n/a"
    value = Decimal(str(amount)).quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def _format_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _period(row: Mapping[str, Any]) -> str:
    start = _format_date(row.get("period_start_date"))
    end = _format_date(row.get("period_end_date"))
    return f"{start} to {end}"


def _comparison(label: str, computed: Decimal | None, invoice: Decimal | None) -> str:
    """Describe one comparison: the computed amount, the difference and which side is higher."""
    if computed is None or invoice is None:
        return f"{label} {format_usd(computed)}"
    difference = computed - invoice
    text = f"{label} {format_usd(computed)}, difference {format_usd(difference)}"
    if invoice != 0:
        percent = (difference * 100 / invoice).quantize(_CENT, rounding=ROUND_HALF_UP)
        text += f" ({percent}%)"
    if difference < 0:
        text += f": the invoice is {format_usd(-difference)} higher"
    elif difference > 0:
        text += f": the invoice is {format_usd(difference)} lower"
    return text


def _hundredfold(amount: Decimal, invoice: Decimal) -> bool:
    """Whether one amount is 95 to 105 times the other; both must be positive."""
    if amount <= 0 or invoice <= 0:
        return False
    ratio = max(amount, invoice) / min(amount, invoice)
    return Decimal(95) <= ratio <= Decimal(105)


def _cents_hint(row: Mapping[str, Any]) -> str:
    invoice = _decimal(row.get("invoice_usage_subtotal_usd")) or Decimal(0)
    matching = [
        (label, amount)
        for label, amount in (
            ("provider-billed cost", _decimal(row.get("billed_cost_usd"))),
            ("allocated cost", _decimal(row.get("allocated_cost_usd"))),
        )
        if amount is not None and _hundredfold(amount, invoice)
    ]
    if not matching:
        return "an amount is about 100 times the other: cents were likely read as dollars"

    label, computed = matching[0]
    provider_note = (
        " (the Anthropic cost report states amounts in cents)"
        if row.get("provider") == "anthropic"
        else ""
    )
    if computed > invoice:
        factor = (computed / invoice).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return (
            f"the {label} is {factor} times the invoice, so an amount in cents was likely "
            f"read as dollars{provider_note}"
        )
    factor = (invoice / computed).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return (
        f"the invoice is {factor} times the {label}, so the invoice amount was likely "
        "entered in cents, or a cost in dollars was read as cents"
    )


def _missing_day_hint(row: Mapping[str, Any]) -> str:
    dates = str(row.get("missing_cost_dates") or _format_date(row.get("likely_cause_date")))
    first_date = _format_date(row.get("likely_cause_date"))
    last_date = dates.split(", ")[-1]
    plural = "," in dates
    estimate = _decimal(row.get("missing_cost_estimated_usd"))
    estimate_text = (
        f" (estimated at {format_usd(estimate)} from the neighbouring days)"
        if estimate is not None
        else ""
    )
    return (
        f"the provider's cost data has no rows for {dates}{estimate_text}, so "
        f"{'those days are' if plural else 'that day is'} likely missing; extract the "
        f"provider again for {'those days' if plural else 'that day'} "
        f"(llmeter extract {row.get('provider')} --since {first_date} --until {last_date})"
    )


def _one_day_hint(row: Mapping[str, Any]) -> str:
    day = _format_date(row.get("likely_cause_date"))
    return (
        f"the difference equals the provider-billed cost of {day}, "
        "so one day is likely counted on one side only: check the invoice's period boundaries "
        "and time zone, or a day counted twice"
    )


LIKELY_CAUSE_HINTS = {
    "cents_dollars_mixup": _cents_hint,
    "missing_cost_day": _missing_day_hint,
    "one_day_difference": _one_day_hint,
}


def describe_reconciliation_row(row: Mapping[str, Any]) -> str:
    """Describe a failing row of `fct_invoice_reconciliation` in a few sentences."""
    provider = row.get("provider")
    invoice_id = row.get("invoice_id")
    status = row.get("status")
    invoice = _decimal(row.get("invoice_usage_subtotal_usd"))
    heading = f"{provider} invoice {invoice_id} for {_period(row)}"

    if status == "invoice_without_usage":
        return (
            f"{heading}: invoice usage subtotal {format_usd(invoice)}, but no provider cost data "
            "and no customer costs exist for any day of the period; check that the provider's "
            "cost data for the period was extracted, and that the invoice's provider and dates "
            "are right"
        )

    parts = [
        f"{heading}: {str(status).replace('_', ' ')}",
        f"invoice usage subtotal {format_usd(invoice)}",
        _comparison("provider-billed cost", _decimal(row.get("billed_cost_usd")), invoice),
    ]
    billed_difference = _decimal(row.get("billed_difference_usd"))
    allocated_difference = _decimal(row.get("allocated_difference_usd"))
    if allocated_difference is not None and allocated_difference != billed_difference:
        parts.append(
            _comparison("allocated cost", _decimal(row.get("allocated_cost_usd")), invoice)
        )
    parts.append(f"tolerance {format_usd(row.get('tolerance_usd'))}")
    message = "; ".join(parts)

    hint = LIKELY_CAUSE_HINTS.get(str(row.get("likely_cause")))
    if hint is not None:
        message += f". Likely cause: {hint(row)}"
    return message
