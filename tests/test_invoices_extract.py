"""The invoices source end to end: dlt loads the files into a real DuckDB file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from llmeter.extract import SourceSkippedError
from llmeter.settings import Settings
from pipelines.invoices import extract
from tests.reconciliation_warehouse import make_context, make_settings, write_invoice_file

SEPTEMBER_OPENAI = "openai,INV-OA-09,2026-09-01,2026-09-30,USD,290.00,0,0,290.00"
SEPTEMBER_OPENAI_CORRECTED = "openai,INV-OA-09,2026-09-01,2026-09-30,USD,300.40,10.00,2.05,292.45"
SEPTEMBER_ANTHROPIC = "anthropic,INV-AN-09,2026-09-01,2026-09-30,USD,210.00,0,0,210.00"
EURO_INVOICE = "google,INV-G-09,2026-09-01,2026-09-30,EUR,12.00,0,0,12.00"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of a fresh warehouse whose invoice folder is `tmp_path / "invoices"`."""
    monkeypatch.setenv("SOURCES__INVOICES__BUCKET_URL", str(tmp_path / "invoices"))
    (tmp_path / "invoices").mkdir()
    return make_settings(tmp_path, as_of_date=dt.date(2026, 11, 15), project_root=tmp_path)


def _invoices(settings: Settings) -> list[tuple[object, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(
            "select invoice_id, provider, usage_subtotal, credits, tax, total, source_file "
            "from raw_invoices.invoices order by invoice_id"
        ).fetchall()


def _quarantine(settings: Settings) -> list[tuple[object, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(
            "select source_file, line_number, reason, is_duplicate "
            "from raw_invoices.quarantine order by source_file, line_number"
        ).fetchall()


def test_source_skipped_without_setting_or_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCES__INVOICES__BUCKET_URL", raising=False)
    settings = make_settings(tmp_path, as_of_date=dt.date(2026, 11, 15), project_root=tmp_path)

    with pytest.raises(SourceSkippedError, match="SOURCES__INVOICES__BUCKET_URL is not set"):
        extract(make_context(settings, "extract"))


def test_default_folder_is_used_without_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCES__INVOICES__BUCKET_URL", raising=False)
    settings = make_settings(tmp_path, as_of_date=dt.date(2026, 11, 15), project_root=tmp_path)
    write_invoice_file(
        tmp_path / "data" / "invoices" / "invoices.csv",
        [SEPTEMBER_ANTHROPIC],
        modified_at=dt.datetime(2026, 10, 2),
    )

    results = extract(make_context(settings, "extract"))

    assert [result.subject for result in results] == ["invoices/invoices.csv"]
    assert [row[0] for row in _invoices(settings)] == ["INV-AN-09"]


def test_setting_with_missing_folder_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__INVOICES__BUCKET_URL", "no/such/folder")
    settings = make_settings(tmp_path, as_of_date=dt.date(2026, 11, 15), project_root=tmp_path)

    with pytest.raises(FileNotFoundError, match="no/such/folder"):
        extract(make_context(settings, "extract"))


def test_invoices_load_with_exact_decimals(settings: Settings) -> None:
    write_invoice_file(
        settings.project_root / "invoices" / "2026-10.csv",
        [SEPTEMBER_OPENAI_CORRECTED, SEPTEMBER_ANTHROPIC],
        modified_at=dt.datetime(2026, 10, 2),
    )

    extract(make_context(settings, "extract"))

    assert _invoices(settings) == [
        (
            "INV-AN-09",
            "anthropic",
            Decimal("210.00"),
            Decimal("0"),
            Decimal("0"),
            Decimal("210.00"),
            "2026-10.csv",
        ),
        (
            "INV-OA-09",
            "openai",
            Decimal("300.40"),
            Decimal("10.00"),
            Decimal("2.05"),
            Decimal("292.45"),
            "2026-10.csv",
        ),
    ]


def test_invalid_rows_are_quarantined_and_counted(settings: Settings) -> None:
    write_invoice_file(
        settings.project_root / "invoices" / "2026-10.csv",
        [SEPTEMBER_ANTHROPIC, EURO_INVOICE],
        modified_at=dt.datetime(2026, 10, 2),
    )

    (result,) = extract(make_context(settings, "extract"))

    assert result.subject == "invoices/2026-10.csv"
    assert result.status == "warned"
    assert (result.rows_read, result.rows_loaded, result.rows_duplicate, result.rows_rejected) == (
        2,
        1,
        0,
        1,
    )
    assert result.details == {"quarantine_reasons": {"unsupported_currency": 1}}
    assert _quarantine(settings) == [
        (
            "2026-10.csv",
            3,
            "currency 'EUR' is not supported: the reconciliation compares USD amounts only, "
            "so convert the invoice to USD",
            False,
        )
    ]


def test_corrected_invoice_replaces_loaded_one(settings: Settings) -> None:
    folder = settings.project_root / "invoices"
    write_invoice_file(
        folder / "2026-10.csv", [SEPTEMBER_OPENAI], modified_at=dt.datetime(2026, 10, 2)
    )
    extract(make_context(settings, "extract"))
    write_invoice_file(
        folder / "2026-10-corrected.csv",
        [SEPTEMBER_OPENAI_CORRECTED],
        modified_at=dt.datetime(2026, 10, 20),
    )

    results = extract(make_context(settings, "extract"))

    loaded = _invoices(settings)
    assert len(loaded) == 1
    assert loaded[0][2] == Decimal("300.40")
    assert loaded[0][6] == "2026-10-corrected.csv"
    counts = {result.subject: (result.rows_loaded, result.rows_duplicate) for result in results}
    assert counts == {"invoices/2026-10.csv": (0, 1), "invoices/2026-10-corrected.csv": (1, 0)}
    assert _quarantine(settings) == [
        (
            "2026-10.csv",
            2,
            "invoice_id 'INV-OA-09' is replaced by line 2 of 2026-10-corrected.csv",
            True,
        )
    ]


def test_second_run_changes_nothing(settings: Settings) -> None:
    write_invoice_file(
        settings.project_root / "invoices" / "2026-10.csv",
        [SEPTEMBER_OPENAI_CORRECTED, SEPTEMBER_ANTHROPIC, EURO_INVOICE],
        modified_at=dt.datetime(2026, 10, 2),
    )
    extract(make_context(settings, "extract"))
    first_invoices, first_quarantine = _invoices(settings), _quarantine(settings)

    extract(make_context(settings, "extract"))

    assert _invoices(settings) == first_invoices
    assert _quarantine(settings) == first_quarantine
    assert len(first_invoices) == 2
    assert len(first_quarantine) == 1


def test_fixed_file_empties_quarantine(settings: Settings) -> None:
    path = settings.project_root / "invoices" / "2026-10.csv"
    write_invoice_file(path, [EURO_INVOICE], modified_at=dt.datetime(2026, 10, 2))
    extract(make_context(settings, "extract"))
    write_invoice_file(path, [SEPTEMBER_ANTHROPIC], modified_at=dt.datetime(2026, 10, 3))

    extract(make_context(settings, "extract"))

    assert _quarantine(settings) == []
    assert [row[0] for row in _invoices(settings)] == ["INV-AN-09"]


def test_empty_folder_creates_empty_tables(settings: Settings) -> None:
    (result,) = extract(make_context(settings, "extract"))

    assert result.subject == "invoices"
    assert result.status == "warned"
    assert result.rows_read == 0
    assert _invoices(settings) == []
    assert _quarantine(settings) == []
