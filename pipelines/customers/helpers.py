"""Parsing and validation of `customers.csv` and `subscriptions.csv`.

Each file is parsed on its own into loaded rows and quarantine rows. A row with any invalid
field is rejected with every reason found. A valid row whose id an earlier valid row already
used is a duplicate, and the first row is kept. Both go to the quarantine, so nothing read is
lost: rows read = rows loaded + duplicates + rows rejected. Blank lines are not rows.

Checks that need the plans (an unknown `plan_id`) or several rows (overlapping subscriptions of
one customer) run as dbt tests, because the plans are a dbt seed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.customers.settings import (
    CUSTOMER_COLUMNS,
    DECIMAL_SCALE,
    MAX_CUSTOMER_ID_LENGTH,
    REQUIRED_SUBSCRIPTION_COLUMNS,
    RESERVED_IDENTIFIERS,
)

_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidFileError(ValueError):
    """Raised for a file that cannot be read as a whole: bad encoding or missing columns."""


@dataclass
class ParsedFile:
    """The outcome of parsing one file: loaded rows, quarantine rows and the counts."""

    file_name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    reason_counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        """Rows that passed every check and were not duplicates."""
        return len(self.rows)


@dataclass(frozen=True)
class Reason:
    """Why a row was not loaded: a short code for counting and a message for people."""

    code: str
    message: str


@dataclass(frozen=True)
class _Record:
    line_number: int
    raw_row: str
    values: dict[str, str]
    field_count_error: Reason | None


def decode_csv(content: bytes, file_name: str) -> str:
    """Decode a CSV file as UTF-8, with or without a byte order mark."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidFileError(
            f"{file_name} is not valid UTF-8 (byte {error.start}); save it as UTF-8 and rerun"
        ) from error


def _records(text: str, file_name: str, required: Sequence[str]) -> Iterator[_Record]:
    """Yield each non-blank data row of a CSV text with its first line number and raw text."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise InvalidFileError(f"{file_name} is empty; it needs a header row")
    header = [name.strip() for name in header]
    missing = [name for name in required if name not in header]
    if missing:
        raise InvalidFileError(
            f"{file_name} is missing the column(s) {', '.join(missing)}; "
            f"its header is {','.join(header)}"
        )

    previous_line = reader.line_num
    for fields in reader:
        first_line = previous_line + 1
        raw_row = "".join(lines[previous_line : reader.line_num]).rstrip("\r\n")
        previous_line = reader.line_num
        if len(fields) <= 1 and not "".join(fields).strip():
            continue  # a blank line is not a row
        field_count_error = None
        if len(fields) != len(header):
            field_count_error = Reason(
                "field_count", f"row has {len(fields)} fields but the header has {len(header)}"
            )
        values = dict(zip(header, fields, strict=False))
        yield _Record(first_line, raw_row, values, field_count_error)


def _parse_date(values: dict[str, str], name: str, reasons: list[Reason]) -> dt.date | None:
    value = values.get(name, "").strip()
    if not value:
        return None
    try:
        if not _DATE_PATTERN.match(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        reasons.append(Reason("invalid_date", f"invalid {name} {value!r} (expected YYYY-MM-DD)"))
        return None


def _parse_decimal(values: dict[str, str], name: str, reasons: list[Reason]) -> Decimal | None:
    value = values.get(name, "").strip()
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        reasons.append(
            Reason("invalid_decimal", f"invalid {name} {value!r} (expected a number like 49.00)")
        )
        return None
    if not number.is_finite():
        reasons.append(
            Reason("invalid_decimal", f"invalid {name} {value!r} (expected a finite number)")
        )
        return None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -DECIMAL_SCALE:
        reasons.append(
            Reason(
                "invalid_decimal",
                f"invalid {name} {value!r} (more than {DECIMAL_SCALE} decimal places)",
            )
        )
        return None
    return number


def _require(values: dict[str, str], names: Sequence[str], reasons: list[Reason]) -> None:
    for name in names:
        if not values.get(name, "").strip():
            reasons.append(Reason("missing_field", f"missing {name}"))


def _check_customer_id(values: dict[str, str], reasons: list[Reason]) -> None:
    customer_id = values.get("customer_id", "")
    if customer_id in RESERVED_IDENTIFIERS:
        reasons.append(
            Reason("reserved_customer_id", f"customer_id {customer_id!r} is a reserved identifier")
        )
    if len(customer_id) > MAX_CUSTOMER_ID_LENGTH:
        reasons.append(
            Reason(
                "customer_id_too_long",
                f"customer_id is longer than {MAX_CUSTOMER_ID_LENGTH} characters",
            )
        )


def _quarantine_row(
    file_name: str, record: _Record, reason: str, *, is_duplicate: bool
) -> dict[str, Any]:
    return {
        "source_file": file_name,
        "line_number": record.line_number,
        "raw_row": record.raw_row,
        "reason": reason,
        "is_duplicate": is_duplicate,
    }


def _add(
    parsed: ParsedFile,
    record: _Record,
    key_name: str,
    row: dict[str, Any],
    reasons: list[Reason],
    first_lines: dict[str, int],
) -> None:
    """Count a validated record as loaded, duplicate or rejected and file it accordingly."""
    parsed.rows_read += 1
    if reasons:
        parsed.rows_rejected += 1
        for reason in reasons:
            parsed.reason_counts[reason.code] = parsed.reason_counts.get(reason.code, 0) + 1
        message = "; ".join(reason.message for reason in reasons)
        parsed.quarantine.append(
            _quarantine_row(parsed.file_name, record, message, is_duplicate=False)
        )
        return

    key = row[key_name]
    if key in first_lines:
        parsed.rows_duplicate += 1
        parsed.reason_counts["duplicate_id"] = parsed.reason_counts.get("duplicate_id", 0) + 1
        message = f"duplicate {key_name} {key!r}; the row on line {first_lines[key]} is kept"
        parsed.quarantine.append(
            _quarantine_row(parsed.file_name, record, message, is_duplicate=True)
        )
        return

    first_lines[key] = record.line_number
    row["source_file"] = parsed.file_name
    row["source_line"] = record.line_number
    parsed.rows.append(row)


def parse_customers(text: str, file_name: str) -> ParsedFile:
    """Parse and validate the rows of a `customers.csv` text."""
    parsed = ParsedFile(file_name)
    first_lines: dict[str, int] = {}
    for record in _records(text, file_name, CUSTOMER_COLUMNS):
        values = record.values
        reasons = [record.field_count_error] if record.field_count_error else []
        _require(values, CUSTOMER_COLUMNS, reasons)
        _check_customer_id(values, reasons)
        created_date = _parse_date(values, "created_date", reasons)
        row = {
            "customer_id": values.get("customer_id", ""),
            "customer_name": values.get("customer_name", ""),
            "created_date": created_date,
        }
        _add(parsed, record, "customer_id", row, reasons, first_lines)
    return parsed


def parse_subscriptions(text: str, file_name: str) -> ParsedFile:
    """Parse and validate the rows of a `subscriptions.csv` text."""
    parsed = ParsedFile(file_name)
    first_lines: dict[str, int] = {}
    for record in _records(text, file_name, REQUIRED_SUBSCRIPTION_COLUMNS):
        values = record.values
        reasons = [record.field_count_error] if record.field_count_error else []
        _require(values, REQUIRED_SUBSCRIPTION_COLUMNS, reasons)
        _check_customer_id(values, reasons)
        start_date = _parse_date(values, "start_date", reasons)
        end_date = _parse_date(values, "end_date", reasons)
        if start_date is not None and end_date is not None and end_date < start_date:
            reasons.append(
                Reason("end_before_start", f"end_date {end_date} is before start_date {start_date}")
            )

        negotiated_fee = _parse_decimal(values, "negotiated_fee", reasons)
        if negotiated_fee is not None and negotiated_fee < 0:
            reasons.append(Reason("negative_fee", f"negotiated_fee {negotiated_fee} is negative"))
        discount_pct = _parse_decimal(values, "discount_pct", reasons)
        if discount_pct is not None and not Decimal(0) <= discount_pct <= Decimal(100):
            reasons.append(
                Reason("discount_out_of_range", f"discount_pct {discount_pct} is outside 0-100")
            )
        if negotiated_fee is not None and discount_pct is not None:
            reasons.append(
                Reason(
                    "fee_and_discount",
                    "negotiated_fee and discount_pct are both set; a negotiated fee replaces "
                    "the plan fee and takes no discount",
                )
            )

        row = {
            "subscription_id": values.get("subscription_id", ""),
            "customer_id": values.get("customer_id", ""),
            "plan_id": values.get("plan_id", "").strip(),
            "start_date": start_date,
            "end_date": end_date,
            "negotiated_fee": negotiated_fee,
            "discount_pct": discount_pct,
        }
        _add(parsed, record, "subscription_id", row, reasons, first_lines)
    return parsed
