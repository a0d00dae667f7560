"""Judging Great Expectations results: what failed, and what could not be evaluated.

GX marks an expectation that raised inside its metric code as unsuccessful. It reports the
exception in one of two shapes: `exception_info = {"raised_exception": True, ...}`, or a dict of
such records keyed by metric id (for a metric that failed to resolve, such as a missing column).
Both count as failures here. So does a result whose observed value is missing where the
expectation reports one, and an empty result, because a check that could not run never passes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Values GX renders for an observed value it could not compute.
_MISSING_OBSERVED_VALUES = ("N/A", "n/a", "")

# Unexpected values kept per expectation in run_audit and in messages.
MAX_LISTED_VALUES = 10


@dataclass(frozen=True)
class ExpectationOutcome:
    """The judged result of one expectation of one validation."""

    expectation_type: str
    kwargs: Mapping[str, Any]
    passed: bool
    problem: str = ""
    observed_value: Any = None
    unexpected_count: int | None = None
    unexpected_values: list[Any] = field(default_factory=list)
    unexpected_index_list: list[Any] = field(default_factory=list)
    exception_message: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        """The checked column, or None for a table-level expectation."""
        column = self.kwargs.get("column")
        return column if isinstance(column, str) else None

    def describe(self) -> str:
        """Describe in one line the expectation, its column and why it did not pass."""
        target = f" on {self.column}" if self.column else ""
        if self.problem == "raised":
            return (
                f"{self.expectation_type}{target} could not be evaluated: GX raised "
                f"{self.exception_message}"
            )
        if self.problem == "not evaluated":
            return f"{self.expectation_type}{target} could not be evaluated: no observed value"
        if self.unexpected_count is not None:
            examples = ", ".join(_display(value) for value in self.unexpected_values)
            return f"{self.expectation_type}{target} failed for {self.unexpected_count} rows" + (
                f" (for example {examples})" if examples else ""
            )
        return f"{self.expectation_type}{target} failed: observed {_display(self.observed_value)}"

    def as_details(self) -> dict[str, Any]:
        """Convert the outcome to JSON-ready values for run_audit details."""
        return {
            "expectation_type": self.expectation_type,
            "kwargs": {key: _plain(value) for key, value in self.kwargs.items()},
            "problem": self.problem,
            "observed_value": _plain(self.observed_value),
            "unexpected_count": self.unexpected_count,
            "unexpected_values": [_plain(value) for value in self.unexpected_values],
            "exception_message": self.exception_message,
        }


def _display(value: Any) -> str:
    """Format a value for people: strings quoted, decimals without trailing zeros."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value.normalize(), "f")
    return str(value)


def _plain(value: Any) -> Any:
    """Copy a value as JSON-ready data, turning decimals, dates and other objects into strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)


def exception_messages(exception_info: Mapping[str, Any] | None) -> list[str]:
    """Collect the message of every exception GX reports in an expectation's `exception_info`."""
    if not exception_info:
        return []
    # One record, or one record per metric that failed to resolve.
    records: Iterable[Any] = (
        [exception_info] if "raised_exception" in exception_info else exception_info.values()
    )
    messages = []
    for record in records:
        if isinstance(record, Mapping) and record.get("raised_exception"):
            messages.append(str(record.get("exception_message") or "an unnamed exception"))
    return messages


def _observed_value_missing(result: Mapping[str, Any]) -> bool:
    if "observed_value" not in result:
        return False
    observed = result["observed_value"]
    if observed is None:
        return True
    if isinstance(observed, float) and math.isnan(observed):
        return True
    return isinstance(observed, str) and observed in _MISSING_OBSERVED_VALUES


def judge(expectation_result: Any) -> ExpectationOutcome:
    """Judge one `ExpectationValidationResult`: passed only when GX evaluated it and it held."""
    configuration = expectation_result.expectation_config
    result: Mapping[str, Any] = expectation_result.result or {}
    raised = exception_messages(expectation_result.exception_info)

    if raised:
        problem = "raised"
    elif not result or _observed_value_missing(result):
        problem = "not evaluated"
    elif not expectation_result.success:
        problem = "failed"
    else:
        problem = ""

    unexpected_values = result.get("partial_unexpected_list") or result.get("unexpected_list") or []
    return ExpectationOutcome(
        expectation_type=configuration.type,
        kwargs=dict(configuration.kwargs),
        passed=not problem,
        problem=problem,
        observed_value=result.get("observed_value"),
        unexpected_count=result.get("unexpected_count"),
        unexpected_values=list(unexpected_values)[:MAX_LISTED_VALUES],
        unexpected_index_list=list(result.get("unexpected_index_list") or []),
        exception_message="; ".join(raised),
        meta=dict(configuration.meta or {}),
    )
