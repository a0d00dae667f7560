"""The expectations of each published mart that Great Expectations checks.

GX reads a whole mart into memory, so it checks the aggregate marts only; row-level checks of
the per-call fact `fct_llm_calls` are dbt tests. Every suite checks the row count against the
previous check's count (`ROW_COUNT_*`), through the suite parameters `row_count_min` and
`row_count_max`, so that a suite stays the same from run to run.

All column expectations here compare Arrow-backed DECIMAL, DOUBLE, boolean and string columns
against plain numbers or sets; GX 1.24 evaluates those on `pd.ArrowDtype` columns without
conversion. (Expectations that do arithmetic on a DECIMAL(38, 18) column, such as
`ExpectColumnValuesToBeIncreasing` or z-scores, raise "Decimal precision out of range" in
pyarrow, so none is used.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import great_expectations.expectations as gxe

from llmeter.checks.marts import MartRelation

RECONCILIATION_MART = "fct_invoice_reconciliation"
MONTHLY_RECONCILIATION_MART = "fct_invoice_reconciliation_monthly"

RECONCILIATION_STATUSES = ("reconciled", "out_of_tolerance", "pending", "invoice_without_usage")

# Marks the expectations whose failing rows are invoices to describe one by one (`messages`).
DESCRIBES_ROWS = {"describes_rows": True}

# A mart may shrink by at most 10% and grow to at most twice its previous row count, each with
# 10 rows of slack so that small marts (a few invoices) do not fail on one added month. The
# nightly run adds one day, so a larger change is a backfill or a fault. It fails once, because
# the next check compares with the new count.
ROW_COUNT_MIN_RATIO = 0.9
ROW_COUNT_MAX_RATIO = 2
ROW_COUNT_SLACK_ROWS = 10

# Margin percentages, in percent (35 means 35%). Above 100% is impossible. Below -10,000% means a
# cost 100 times the revenue, which in a month is a fault rather than a bad customer. A single
# day can legitimately fall that low (a heavy day against one day's share of a fee), so daily
# margins are checked against the upper bound only.
MARGIN_PCT_MIN = -10_000
MARGIN_PCT_MAX = 100

COST_COLUMN_PATTERN = re.compile(r"(^|_)cost_usd$")
MARGIN_PCT_COLUMN_PATTERN = re.compile(r"margin_(pct|percent)$")

# The columns a reconciliation failure message names; read beside the checked columns.
RECONCILIATION_MESSAGE_COLUMNS = (
    "provider",
    "invoice_id",
    "period_start_date",
    "period_end_date",
    "usage_days",
    "invoice_usage_subtotal_usd",
    "billed_cost_usd",
    "allocated_cost_usd",
    "list_cost_usd",
    "billed_difference_usd",
    "billed_difference_pct",
    "allocated_difference_usd",
    "tolerance_usd",
    "status",
    "likely_cause",
    "likely_cause_date",
    "missing_cost_dates",
    "missing_cost_estimated_usd",
)


@dataclass(frozen=True)
class MartSuite:
    """The expectations of one mart, with the columns to read and GX's result format.

    `message_columns` are read for failure messages without being checked. The reconciliation
    suite requests GX's COMPLETE result format, which lists the index of every failing row.
    """

    mart: str
    expectations: list[gxe.Expectation]
    message_columns: tuple[str, ...] = ()
    result_format: str = "SUMMARY"

    def columns(self) -> list[str]:
        """Return every column the expectations or the messages use, in first-use order."""
        names: list[str] = []
        for expectation in self.expectations:
            names.extend(_expectation_columns(expectation.configuration.kwargs))
        names.extend(self.message_columns)
        return list(dict.fromkeys(names))


@dataclass(frozen=True)
class MartCheck:
    """A published mart and the function that builds its suite from its columns."""

    mart: str
    build_suite: Callable[[MartRelation], MartSuite]


def _expectation_columns(kwargs: dict[str, Any]) -> Iterator[str]:
    for key in ("column", "column_A", "column_B"):
        if isinstance(kwargs.get(key), str):
            yield kwargs[key]
    yield from kwargs.get("column_list") or ()


def row_count_parameters(previous_row_count: int | None) -> dict[str, int | None]:
    """Return the row-count suite parameters, with no upper bound on the first check."""
    if previous_row_count is None:
        return {"row_count_min": 0, "row_count_max": None}
    return {
        "row_count_min": max(
            0, math.floor(previous_row_count * ROW_COUNT_MIN_RATIO) - ROW_COUNT_SLACK_ROWS
        ),
        "row_count_max": previous_row_count * ROW_COUNT_MAX_RATIO + ROW_COUNT_SLACK_ROWS,
    }


def _row_count_expectation() -> gxe.Expectation:
    return gxe.ExpectTableRowCountToBeBetween(
        min_value={"$PARAMETER": "row_count_min"},
        max_value={"$PARAMETER": "row_count_max"},
        notes=(
            "Row count within 90% - 10 rows and 200% + 10 rows of the previous check's count; "
            "no upper bound on the first check."
        ),
    )


def _non_negative(columns: Sequence[str]) -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=0, notes="A cost is never negative."
        )
        for column in columns
    ]


def cost_columns(mart: MartRelation) -> list[str]:
    """Return the US-dollar cost columns of a mart: names ending in `cost_usd`."""
    return [column for column in mart.column_types if COST_COLUMN_PATTERN.search(column)]


def reconciliation_suite(mart: MartRelation) -> MartSuite:
    """Invoices reconcile: no out-of-tolerance invoice, no invoice without usage."""
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToNotBeInSet(
            column="status",
            value_set=["out_of_tolerance"],
            meta=DESCRIBES_ROWS,
            notes=(
                "The provider's cost data or the allocated cost differs from the invoice's "
                "usage subtotal by more than the provider's tolerance."
            ),
        ),
        gxe.ExpectColumnValuesToNotBeInSet(
            column="status",
            value_set=["invoice_without_usage"],
            meta=DESCRIBES_ROWS,
            notes="An invoice with a non-zero subtotal and no usage on any day of its period.",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="is_billed_within_tolerance",
            value_set=[True],
            meta=DESCRIBES_ROWS,
            notes="The provider's cost data is within tolerance of the invoice (null: pending).",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="is_allocated_within_tolerance",
            value_set=[True],
            meta=DESCRIBES_ROWS,
            notes="The allocated customer cost is within tolerance of the invoice.",
        ),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(RECONCILIATION_STATUSES)),
        gxe.ExpectColumnValuesToNotBeNull(column="provider"),
        *_non_negative(
            ["invoice_usage_subtotal_usd", "billed_cost_usd", "allocated_cost_usd", "list_cost_usd"]
        ),
        gxe.ExpectColumnValuesToBeBetween(column="unattributed_pct", min_value=0, max_value=100),
        _row_count_expectation(),
    ]
    return MartSuite(
        mart=mart.name,
        expectations=expectations,
        message_columns=RECONCILIATION_MESSAGE_COLUMNS,
        result_format="COMPLETE",
    )


def monthly_reconciliation_suite(mart: MartRelation) -> MartSuite:
    """Structure only: the per-invoice mart already judges every invoice against its tolerance."""
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(RECONCILIATION_STATUSES)),
        *_non_negative(
            ["invoice_usage_subtotal_usd", "billed_cost_usd", "allocated_cost_usd", "list_cost_usd"]
        ),
        _row_count_expectation(),
    ]
    return MartSuite(mart=mart.name, expectations=expectations)


def aggregate_suite(
    *,
    required_cost_columns: Sequence[str] = (),
    requires_margin_pct: bool = False,
    margin_pct_min: int | None = MARGIN_PCT_MIN,
) -> Callable[[MartRelation], MartSuite]:
    """Return a suite builder for an aggregate mart: costs never negative, margins in range.

    Cost columns are found by name (`*cost_usd`), and so are margin percentages
    (`*margin_pct`, `*margin_percent`). `required_cost_columns` are checked even when missing,
    so that a mart that lost one fails. A mart that `requires_margin_pct` and has no margin
    percentage column gets an expectation on `margin_pct`, which then fails as missing.
    """

    def build(mart: MartRelation) -> MartSuite:
        costs = list(dict.fromkeys([*required_cost_columns, *cost_columns(mart)]))
        margins = [
            column for column in mart.column_types if MARGIN_PCT_COLUMN_PATTERN.search(column)
        ]
        if requires_margin_pct and not margins:
            margins = ["margin_pct"]
        expectations: list[gxe.Expectation] = [
            *_non_negative(costs),
            *(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=margin_pct_min,
                    max_value=MARGIN_PCT_MAX,
                    notes="A margin percentage in a sane range (at most 100%).",
                )
                for column in margins
            ),
            _row_count_expectation(),
        ]
        return MartSuite(mart=mart.name, expectations=expectations)

    return build


MART_CHECKS: tuple[MartCheck, ...] = (
    MartCheck(RECONCILIATION_MART, reconciliation_suite),
    MartCheck(MONTHLY_RECONCILIATION_MART, monthly_reconciliation_suite),
    MartCheck(
        "fct_customer_daily_costs",
        aggregate_suite(required_cost_columns=("list_cost_usd", "allocated_cost_usd")),
    ),
    MartCheck(
        "fct_customer_daily_margins",
        aggregate_suite(requires_margin_pct=True, margin_pct_min=None),
    ),
    MartCheck("fct_customer_monthly_margins", aggregate_suite(requires_margin_pct=True)),
    MartCheck("fct_tag_daily_costs", aggregate_suite()),
    MartCheck("fct_attribution_coverage", aggregate_suite()),
    MartCheck("fct_unpriced_usage", aggregate_suite()),
    MartCheck("fct_cost_anomalies", aggregate_suite()),
    MartCheck("fct_focus_llm_costs", aggregate_suite()),
)
