"""Parsing and validation of invoice totals files (`invoices.csv`, docs/input-formats.md).

Every file of the folder is read on every run, oldest first: files are ordered by modification
time, then by name for files modified at the same time. A valid row replaces any earlier valid
row with the same `invoice_id`, whether it comes from an earlier file (a corrected invoice) or
from an earlier line of the same file, so the newest version of each invoice is loaded.

Each row ends up in one of three counts of its file, so that rows read = rows loaded +
duplicates + rows rejected:

- loaded: the newest valid version of its invoice;
- duplicate: a valid row that a later row with the same `invoice_id` replaced;
- rejected: a row with any invalid field, with every reason found.

Duplicates and rejected rows both go to the quarantine, so nothing read is lost. Blank lines are
not rows. Amounts are parsed with `decimal.Decimal` and never pass through a float.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipelines.invoices.settings import (
    DECIMAL_PRECISION,
    DECIMAL_SCALE,
    KNOWN_PROVIDERS,
    MAX_PERIOD_DAYS,
    REQUIRED_COLUMNS,
    SUPPORTED_CURRENCY,
)

_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DECIMAL_PATTERN = re.compile(r"^-?\d+(\.\d+)?$")
_MAX_INTEGER_DIGITS = DECIMAL_PRECISION - DECIMAL_SCALE


class InvalidFileError(ValueError):
    """Raised for a file that cannot be read as a whole: bad encoding, no header, no columns."""


@dataclass(frozen=True)
class InvoiceFile:
    """One file of the folder: its name, its modification time (naive UTC) and its text."""

    file_name: str
    modified_at: dt.datetime
    text: str


@dataclass(frozen=True)
class Reason:
    """Why a row was not loaded: a short code for counting and a message for people."""

    code: str
    message: str


@dataclass
class FileCounts:
    """Rows read, loaded, duplicate and rejected in one file, with the rejection reasons."""

    file_name: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    reason_counts: dict[str, int] = field(default_factory=dict)

    def count_reason(self, code: str) -> None:
        """Add one row with reason `code` to `reason_counts`."""
        self.reason_counts[code] = self.reason_counts.get(code, 0) + 1


@dataclass
class ParsedInvoices:
    """The outcome of reading every file: the invoices to load, the quarantine and the counts."""

    invoices: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    files: list[FileCounts] = field(default_factory=list)


@dataclass(frozen=True)
class _Record:
    line_number: int
    raw_row: str
    values: dict[str, str]
    field_count_error: Reason | None


@dataclass(frozen=True)
class _ValidRow:
    counts: FileCounts
    record: _Record
    row: dict[str, Any]


def decode_csv(content: bytes, file_name: str) -> str:
    """Decode a CSV file as UTF-8, with or without a byte order mark."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidFileError(
            f"{file_name} is not valid UTF-8 (byte {error.start}); save it as UTF-8 and rerun"
        ) from error


def order_files(files: Sequence[InvoiceFile]) -> list[InvoiceFile]:
    """Sort files oldest first: by modification time, then by name."""
    return sorted(
        files, key=lambda invoice_file: (invoice_file.modified_at, invoice_file.file_name)
    )


def _records(text: str, file_name: str) -> Iterator[_Record]:
    """Yield each non-blank data row of a CSV text with its first line number and raw text.

    Column names are matched without surrounding spaces and case; other columns are ignored.
    """
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise InvalidFileError(f"{file_name} is empty; it needs a header row")
    header = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
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
    value = values.get(name, "")
    if not value:
        return None
    try:
        if not _DATE_PATTERN.match(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        reasons.append(Reason("invalid_date", f"invalid {name} {value!r} (expected YYYY-MM-DD)"))
        return None


def _parse_amount(values: dict[str, str], name: str, reasons: list[Reason]) -> Decimal | None:
    """Parse a decimal amount exactly; an empty value returns None."""
    value = values.get(name, "")
    if not value:
        return None
    if not _DECIMAL_PATTERN.match(value):
        reasons.append(
            Reason(
                "invalid_decimal",
                f"invalid {name} {value!r} (expected a number like 1234.56, without thousands "
                "separators or currency symbols)",
            )
        )
        return None
    number = Decimal(value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -DECIMAL_SCALE:
        reasons.append(
            Reason(
                "invalid_decimal",
                f"invalid {name} {value!r} (more than {DECIMAL_SCALE} decimal places)",
            )
        )
        return None
    if number != 0 and number.adjusted() >= _MAX_INTEGER_DIGITS:
        reasons.append(
            Reason(
                "invalid_decimal",
                f"invalid {name} {value!r} (more than {_MAX_INTEGER_DIGITS} integer digits)",
            )
        )
        return None
    return number


def _check_period(start: dt.date | None, end: dt.date | None, reasons: list[Reason]) -> None:
    if start is None or end is None:
        return
    if end < start:
        reasons.append(
            Reason(
                "end_before_start",
                f"period_end_date {end} is before period_start_date {start}",
            )
        )
        return
    days = (end - start).days + 1
    if days > MAX_PERIOD_DAYS:
        reasons.append(
            Reason(
                "period_too_long",
                f"the period {start} to {end} has {days} days; at most {MAX_PERIOD_DAYS} are "
                "supported, so split the invoice",
            )
        )


def _check_amounts(amounts: dict[str, Decimal | None], reasons: list[Reason]) -> None:
    """Check signs and `total = usage_subtotal - credits + tax`, exactly."""
    subtotal, credits, tax, total = (
        amounts["usage_subtotal"],
        amounts["credits"],
        amounts["tax"],
        amounts["total"],
    )
    if subtotal is not None and subtotal < 0:
        reasons.append(Reason("negative_amount", f"usage_subtotal {subtotal} is negative"))
    if credits is not None and credits < 0:
        reasons.append(
            Reason(
                "negative_amount",
                f"credits {credits} is negative; state credits as a positive number",
            )
        )
    if tax is not None and tax < 0:
        reasons.append(Reason("negative_amount", f"tax {tax} is negative"))
    if subtotal is None or credits is None or tax is None or total is None:
        return
    expected_total = subtotal - credits + tax
    if total != expected_total:
        reasons.append(
            Reason(
                "total_mismatch",
                f"total {total} differs from usage_subtotal - credits + tax = {expected_total}",
            )
        )


def validate_row(values: dict[str, str]) -> tuple[dict[str, Any], list[Reason]]:
    """Validate one row's values and return the typed row with every reason it is invalid."""
    values = {name: value.strip() for name, value in values.items()}
    reasons: list[Reason] = []
    for name in REQUIRED_COLUMNS:
        if not values.get(name, ""):
            reasons.append(Reason("missing_field", f"missing {name}"))

    provider = values.get("provider", "").lower()
    if provider and provider not in KNOWN_PROVIDERS:
        reasons.append(
            Reason(
                "unknown_provider",
                f"unknown provider {values['provider']!r}; expected one of "
                f"{', '.join(sorted(KNOWN_PROVIDERS))}",
            )
        )

    currency = values.get("currency", "").upper()
    if currency and currency != SUPPORTED_CURRENCY:
        reasons.append(
            Reason(
                "unsupported_currency",
                f"currency {values['currency']!r} is not supported: the reconciliation compares "
                f"{SUPPORTED_CURRENCY} amounts only, so convert the invoice to "
                f"{SUPPORTED_CURRENCY}",
            )
        )

    period_start_date = _parse_date(values, "period_start_date", reasons)
    period_end_date = _parse_date(values, "period_end_date", reasons)
    _check_period(period_start_date, period_end_date, reasons)

    amounts = {
        name: _parse_amount(values, name, reasons)
        for name in ("usage_subtotal", "credits", "tax", "total")
    }
    # Credits and tax are optional and 0 when empty.
    for name in ("credits", "tax"):
        if amounts[name] is None and not values.get(name, ""):
            amounts[name] = Decimal(0)
    _check_amounts(amounts, reasons)

    row = {
        "invoice_id": values.get("invoice_id", ""),
        "provider": provider,
        "period_start_date": period_start_date,
        "period_end_date": period_end_date,
        "currency": currency,
        **amounts,
    }
    return row, reasons


def _quarantine_row(
    counts: FileCounts, record: _Record, reason: str, *, is_duplicate: bool
) -> dict[str, Any]:
    return {
        "source_file": counts.file_name,
        "line_number": record.line_number,
        "raw_row": record.raw_row,
        "reason": reason,
        "is_duplicate": is_duplicate,
    }


def parse_invoice_files(files: Sequence[InvoiceFile]) -> ParsedInvoices:
    """Validate the rows of every file and keep the newest valid row of each invoice."""
    parsed = ParsedInvoices()
    newest: dict[str, _ValidRow] = {}
    superseded: list[tuple[_ValidRow, _ValidRow]] = []

    for invoice_file in order_files(files):
        counts = FileCounts(invoice_file.file_name)
        parsed.files.append(counts)
        for record in _records(invoice_file.text, invoice_file.file_name):
            counts.rows_read += 1
            row, reasons = validate_row(record.values)
            if record.field_count_error is not None:
                reasons.insert(0, record.field_count_error)
            if reasons:
                counts.rows_rejected += 1
                for reason in reasons:
                    counts.count_reason(reason.code)
                message = "; ".join(reason.message for reason in reasons)
                parsed.quarantine.append(
                    _quarantine_row(counts, record, message, is_duplicate=False)
                )
                continue

            row["source_file"] = invoice_file.file_name
            row["source_line"] = record.line_number
            row["source_file_modified_at"] = invoice_file.modified_at
            valid = _ValidRow(counts, record, row)
            previous = newest.get(row["invoice_id"])
            if previous is not None:
                superseded.append((previous, valid))
            newest[row["invoice_id"]] = valid

    for older, newer in superseded:
        older.counts.rows_duplicate += 1
        older.counts.count_reason("replaced")
        message = (
            f"invoice_id {older.row['invoice_id']!r} is replaced by line "
            f"{newer.record.line_number} of {newer.counts.file_name}"
        )
        parsed.quarantine.append(
            _quarantine_row(older.counts, older.record, message, is_duplicate=True)
        )

    for valid in newest.values():
        valid.counts.rows_loaded += 1
        parsed.invoices.append(valid.row)
    return parsed
