"""Validation of invoice totals files: the rules, the counts, and which invoice version wins."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pipelines.invoices.helpers import (
    InvalidFileError,
    InvoiceFile,
    decode_csv,
    order_files,
    parse_invoice_files,
    validate_row,
)

HEADER = (
    "provider,invoice_id,period_start_date,period_end_date,currency,"
    "usage_subtotal,credits,tax,total"
)
VALID_VALUES = {
    "provider": "openai",
    "invoice_id": "INV-1",
    "period_start_date": "2026-09-01",
    "period_end_date": "2026-09-30",
    "currency": "USD",
    "usage_subtotal": "300.40",
    "credits": "10.00",
    "tax": "2.05",
    "total": "292.45",
}


def _file(name: str, rows: list[str], *, day: int = 1, header: str = HEADER) -> InvoiceFile:
    return InvoiceFile(
        file_name=name,
        modified_at=dt.datetime(2026, 10, day, 12, 0),
        text="\n".join([header, *rows]) + "\n",
    )


def _reasons(**changes: str) -> list[str]:
    _, reasons = validate_row({**VALID_VALUES, **changes})
    return [reason.code for reason in reasons]


def test_valid_row_parses_exact_decimals() -> None:
    row, reasons = validate_row(dict(VALID_VALUES))

    assert reasons == []
    assert row["usage_subtotal"] == Decimal("300.40")
    assert isinstance(row["usage_subtotal"], Decimal)
    assert row["credits"] == Decimal("10.00")
    assert row["tax"] == Decimal("2.05")
    assert row["total"] == Decimal("292.45")
    assert row["period_start_date"] == dt.date(2026, 9, 1)
    assert row["period_end_date"] == dt.date(2026, 9, 30)


def test_valid_row_normalizes_case_of_provider_and_currency() -> None:
    row, reasons = validate_row({**VALID_VALUES, "provider": " OpenAI", "currency": "usd"})

    assert reasons == []
    assert row["provider"] == "openai"
    assert row["currency"] == "USD"


def test_empty_credits_and_tax_are_zero() -> None:
    row, reasons = validate_row({**VALID_VALUES, "credits": "", "tax": "", "total": "300.40"})

    assert reasons == []
    assert row["credits"] == Decimal(0)
    assert row["tax"] == Decimal(0)


def test_total_uses_exact_decimal_arithmetic() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point, but exactly 0.3 here.
    assert _reasons(usage_subtotal="0.1", credits="0", tax="0.2", total="0.3") == []


@pytest.mark.parametrize(
    ("changes", "expected_code"),
    [
        ({"invoice_id": ""}, "missing_field"),
        ({"usage_subtotal": ""}, "missing_field"),
        ({"period_start_date": "2026-9-1"}, "invalid_date"),
        ({"period_end_date": "2026-02-30"}, "invalid_date"),
        ({"period_end_date": "2026-08-31"}, "end_before_start"),
        ({"period_end_date": "2027-09-30"}, "period_too_long"),
        ({"provider": "azure"}, "unknown_provider"),
        ({"currency": "EUR"}, "unsupported_currency"),
        ({"usage_subtotal": "1,234.50"}, "invalid_decimal"),
        ({"usage_subtotal": "$300.40"}, "invalid_decimal"),
        ({"usage_subtotal": "NaN"}, "invalid_decimal"),
        ({"tax": "0.0000000000000000001"}, "invalid_decimal"),
        ({"total": "292.46"}, "total_mismatch"),
    ],
)
def test_invalid_field_is_rejected(changes: dict[str, str], expected_code: str) -> None:
    assert _reasons(**changes) == [expected_code]


def test_negative_subtotal_is_rejected() -> None:
    codes = _reasons(usage_subtotal="-5.00", credits="0", tax="0", total="-5.00")

    assert codes == ["negative_amount"]


def test_negative_credits_are_rejected() -> None:
    codes = _reasons(credits="-10.00", total="312.45")

    assert codes == ["negative_amount"]


def test_unsupported_currency_message_says_why() -> None:
    _, reasons = validate_row({**VALID_VALUES, "currency": "EUR"})

    assert reasons[0].message == (
        "currency 'EUR' is not supported: the reconciliation compares USD amounts only, "
        "so convert the invoice to USD"
    )


def test_total_mismatch_message_names_expected_total() -> None:
    _, reasons = validate_row({**VALID_VALUES, "total": "292.46"})

    assert reasons[0].message == (
        "total 292.46 differs from usage_subtotal - credits + tax = 292.45"
    )


def test_every_reason_of_a_row_is_kept() -> None:
    codes = _reasons(provider="azure", currency="EUR", period_end_date="2026-08-01")

    assert codes == ["unknown_provider", "unsupported_currency", "end_before_start"]


def test_rejected_rows_quarantined_with_line() -> None:
    parsed = parse_invoice_files(
        [
            _file(
                "invoices.csv",
                [
                    "openai,INV-1,2026-09-01,2026-09-30,USD,300.40,10.00,2.05,292.45",
                    "",
                    "azure,INV-2,2026-09-01,2026-09-30,EUR,1,0,0,1",
                    "openai,INV-3,2026-09-01",
                ],
            )
        ]
    )

    assert [row["invoice_id"] for row in parsed.invoices] == ["INV-1"]
    assert [entry["line_number"] for entry in parsed.quarantine] == [4, 5]
    assert parsed.quarantine[0]["raw_row"] == "azure,INV-2,2026-09-01,2026-09-30,EUR,1,0,0,1"
    assert parsed.quarantine[0]["reason"].startswith("unknown provider 'azure'")
    assert parsed.quarantine[1]["reason"].startswith("row has 3 fields but the header has 9")
    assert parsed.quarantine[1]["is_duplicate"] is False


def test_counts_balance_per_file() -> None:
    parsed = parse_invoice_files(
        [
            _file(
                "2026-10.csv",
                [
                    "openai,INV-1,2026-09-01,2026-09-30,USD,290.00,0,0,290.00",
                    "anthropic,INV-2,2026-09-01,2026-09-30,USD,50.00,0,0,50.00",
                    "google,INV-3,2026-09-01,2026-09-30,GBP,5.00,0,0,5.00",
                ],
                day=2,
            ),
            _file(
                "2026-11.csv",
                ["openai,INV-1,2026-09-01,2026-09-30,USD,300.40,10.00,2.05,292.45"],
                day=20,
            ),
        ]
    )
    counts = {file_counts.file_name: file_counts for file_counts in parsed.files}

    older = counts["2026-10.csv"]
    assert (older.rows_read, older.rows_loaded, older.rows_duplicate, older.rows_rejected) == (
        3,
        1,
        1,
        1,
    )
    newer = counts["2026-11.csv"]
    assert (newer.rows_read, newer.rows_loaded, newer.rows_duplicate, newer.rows_rejected) == (
        1,
        1,
        0,
        0,
    )
    assert older.reason_counts == {"replaced": 1, "unsupported_currency": 1}


def test_corrected_invoice_in_newer_file_replaces_older() -> None:
    older = _file(
        "z-first.csv", ["openai,INV-1,2026-09-01,2026-09-30,USD,290.00,0,0,290.00"], day=2
    )
    newer = _file(
        "a-corrected.csv",
        ["openai,INV-1,2026-09-01,2026-09-30,USD,300.40,10.00,2.05,292.45"],
        day=20,
    )

    # the files are ordered by modification time, not by the order given or by name
    parsed = parse_invoice_files([newer, older])

    assert len(parsed.invoices) == 1
    assert parsed.invoices[0]["usage_subtotal"] == Decimal("300.40")
    assert parsed.invoices[0]["source_file"] == "a-corrected.csv"
    assert parsed.quarantine == [
        {
            "source_file": "z-first.csv",
            "line_number": 2,
            "raw_row": "openai,INV-1,2026-09-01,2026-09-30,USD,290.00,0,0,290.00",
            "reason": "invoice_id 'INV-1' is replaced by line 2 of a-corrected.csv",
            "is_duplicate": True,
        }
    ]


def test_later_line_of_same_file_replaces_earlier() -> None:
    parsed = parse_invoice_files(
        [
            _file(
                "invoices.csv",
                [
                    "openai,INV-1,2026-09-01,2026-09-30,USD,290.00,0,0,290.00",
                    "openai,INV-1,2026-09-01,2026-09-30,USD,295.00,0,0,295.00",
                ],
            )
        ]
    )

    assert [row["usage_subtotal"] for row in parsed.invoices] == [Decimal("295.00")]
    assert parsed.files[0].rows_duplicate == 1
    assert parsed.files[0].rows_loaded == 1


def test_invalid_correction_keeps_older_version() -> None:
    parsed = parse_invoice_files(
        [
            _file("a.csv", ["openai,INV-1,2026-09-01,2026-09-30,USD,290.00,0,0,290.00"], day=2),
            _file("b.csv", ["openai,INV-1,2026-09-01,2026-09-30,EUR,300.00,0,0,300.00"], day=3),
        ]
    )

    assert [row["usage_subtotal"] for row in parsed.invoices] == [Decimal("290.00")]
    assert parsed.files[1].rows_rejected == 1


def test_files_with_same_time_are_ordered_by_name() -> None:
    first = _file("b.csv", [], day=5)
    second = _file("a.csv", [], day=5)

    assert [item.file_name for item in order_files([first, second])] == ["a.csv", "b.csv"]


def test_header_is_matched_without_case_and_spaces() -> None:
    header = " Provider ,INVOICE_ID,period_start_date,period_end_date,currency,usage_subtotal,total"
    parsed = parse_invoice_files(
        [_file("invoices.csv", ["openai,INV-1,2026-09-01,2026-09-30,USD,5.00,5.00"], header=header)]
    )

    assert [row["invoice_id"] for row in parsed.invoices] == ["INV-1"]


def test_missing_required_column_rejects_file() -> None:
    header = "provider,invoice_id,period_start_date,period_end_date,currency,total"

    with pytest.raises(InvalidFileError, match="missing the column\\(s\\) usage_subtotal"):
        parse_invoice_files([_file("invoices.csv", [], header=header)])


def test_empty_file_is_rejected() -> None:
    empty = InvoiceFile(file_name="empty.csv", modified_at=dt.datetime(2026, 10, 1), text="")

    with pytest.raises(InvalidFileError, match=r"empty\.csv is empty"):
        parse_invoice_files([empty])


def test_non_utf8_file_is_rejected() -> None:
    with pytest.raises(InvalidFileError, match="not valid UTF-8"):
        decode_csv("provider\n\xe9".encode("latin-1"), "invoices.csv")


def test_byte_order_mark_is_ignored() -> None:
    assert decode_csv("\ufeffprovider\n".encode(), "invoices.csv") == "provider\n"
