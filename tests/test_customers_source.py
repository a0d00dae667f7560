"""The customers source: CSV snapshots loaded by dlt, invalid rows quarantined with reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.extract import SourceSkippedError
from llmeter.settings import Settings
from llmeter.steps import RunContext
from pipelines.customers import extract
from pipelines.customers.helpers import InvalidFileError, parse_customers, parse_subscriptions

CUSTOMERS_CSV = """customer_id,customer_name,created_date
acme,Acme Corp,2026-01-05
beta,"Beta, Inc.",2026-02-30
(unattributed),Nobody,2026-01-01
acme,Acme again,2026-01-06

gamma,Gamma
delta,Delta,2026-03-01
"""

SUBSCRIPTIONS_HEADER = (
    "subscription_id,customer_id,plan_id,start_date,end_date,negotiated_fee,discount_pct\n"
)

SUBSCRIPTIONS_CSV = (
    SUBSCRIPTIONS_HEADER
    + """s1,acme,starter,2026-03-01,2026-03-15,,
s2,acme,growth,2026-03-16,,,10
s3,delta,growth,2026-03-10,2026-03-01,,
s4,delta,growth,2026-03-16,,100,5
s5,delta,enterprise,2026-01-01,,48000.00,
s6,delta,starter,2026-04-01,,,120
s1,acme,growth,2026-05-01,,,
"""
)


def _settings(root: Path) -> Settings:
    return Settings(
        project_root=root,
        warehouse_path=root / "warehouse" / "llmeter.duckdb",
        published_path=root / "warehouse" / "published" / "llmeter.duckdb",
        memory_limit="1GB",
        as_of_date=dt.date(2026, 11, 1),
    )


def _write_files(folder: Path, customers: str, subscriptions: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(customers, encoding="utf-8")
    (folder / "subscriptions.csv").write_text(subscriptions, encoding="utf-8")


def _table(settings: Settings, table: str, order_by: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(
            f"select * exclude (_dlt_load_id, _dlt_id) from raw_customers.{table} "
            f"order by {order_by}"
        ).fetchall()


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Path]:
    """Settings and a customers folder named by SOURCES__CUSTOMERS__BUCKET_URL."""
    folder = tmp_path / "snapshot"
    _write_files(folder, CUSTOMERS_CSV, SUBSCRIPTIONS_CSV)
    monkeypatch.setenv("SOURCES__CUSTOMERS__BUCKET_URL", str(folder))
    return _settings(tmp_path), folder


def test_customers_counts_balance(configured: tuple[Settings, Path]) -> None:
    settings, _ = configured

    results = extract(RunContext(settings=settings, run_id="run-1", command="extract"))

    by_subject = {result.subject: result for result in results}
    customers = by_subject["customers/customers.csv"]
    assert (customers.rows_read, customers.rows_loaded) == (6, 2)
    assert (customers.rows_duplicate, customers.rows_rejected) == (1, 3)
    assert customers.is_balanced
    assert customers.status == "warned"
    subscriptions = by_subject["customers/subscriptions.csv"]
    assert (subscriptions.rows_read, subscriptions.rows_loaded) == (7, 3)
    assert (subscriptions.rows_duplicate, subscriptions.rows_rejected) == (1, 3)
    assert subscriptions.is_balanced
    assert subscriptions.details["quarantine_reasons"] == {
        "discount_out_of_range": 1,
        "duplicate_id": 1,
        "end_before_start": 1,
        "fee_and_discount": 1,
    }


def test_customers_loaded_rows(configured: tuple[Settings, Path]) -> None:
    settings, _ = configured

    extract(RunContext(settings=settings, run_id="run-1", command="extract"))

    assert _table(settings, "customers", "customer_id") == [
        ("acme", "Acme Corp", dt.date(2026, 1, 5), "customers.csv", 2),
        ("delta", "Delta", dt.date(2026, 3, 1), "customers.csv", 8),
    ]
    subscriptions = _table(settings, "subscriptions", "subscription_id")
    assert [row[0] for row in subscriptions] == ["s1", "s2", "s5"]
    assert subscriptions[0][2:5] == ("starter", dt.date(2026, 3, 1), dt.date(2026, 3, 15))
    assert subscriptions[1][6] == Decimal("10")
    assert subscriptions[2][5] == Decimal("48000")


def test_customers_quarantine_reasons(configured: tuple[Settings, Path]) -> None:
    settings, _ = configured

    extract(RunContext(settings=settings, run_id="run-1", command="extract"))

    quarantine = _table(settings, "quarantine", "source_file, line_number")
    assert quarantine == [
        (
            "customers.csv",
            3,
            'beta,"Beta, Inc.",2026-02-30',
            "invalid created_date '2026-02-30' (expected YYYY-MM-DD)",
            False,
        ),
        (
            "customers.csv",
            4,
            "(unattributed),Nobody,2026-01-01",
            "customer_id '(unattributed)' is a reserved identifier",
            False,
        ),
        (
            "customers.csv",
            5,
            "acme,Acme again,2026-01-06",
            "duplicate customer_id 'acme'; the row on line 2 is kept",
            True,
        ),
        (
            "customers.csv",
            7,
            "gamma,Gamma",
            "row has 2 fields but the header has 3; missing created_date",
            False,
        ),
        (
            "subscriptions.csv",
            4,
            "s3,delta,growth,2026-03-10,2026-03-01,,",
            "end_date 2026-03-01 is before start_date 2026-03-10",
            False,
        ),
        (
            "subscriptions.csv",
            5,
            "s4,delta,growth,2026-03-16,,100,5",
            "negotiated_fee and discount_pct are both set; a negotiated fee replaces the plan "
            "fee and takes no discount",
            False,
        ),
        (
            "subscriptions.csv",
            7,
            "s6,delta,starter,2026-04-01,,,120",
            "discount_pct 120 is outside 0-100",
            False,
        ),
        (
            "subscriptions.csv",
            8,
            "s1,acme,growth,2026-05-01,,,",
            "duplicate subscription_id 's1'; the row on line 2 is kept",
            True,
        ),
    ]


def test_customers_second_run_idempotent(configured: tuple[Settings, Path]) -> None:
    settings, _ = configured
    context = RunContext(settings=settings, run_id="run-1", command="extract")

    first_results = extract(context)
    first_tables = {
        table: _table(settings, table, "all")
        for table in ("customers", "subscriptions", "quarantine")
    }
    second_results = extract(context)
    second_tables = {
        table: _table(settings, table, "all")
        for table in ("customers", "subscriptions", "quarantine")
    }

    assert second_tables == first_tables
    assert second_results == first_results


def test_customers_snapshot_replaces_rows(configured: tuple[Settings, Path]) -> None:
    settings, folder = configured
    context = RunContext(settings=settings, run_id="run-1", command="extract")
    extract(context)

    _write_files(
        folder,
        "customer_id,customer_name,created_date\nacme,Acme Corp,2026-01-05\n",
        SUBSCRIPTIONS_HEADER,
    )
    results = extract(context)

    assert _table(settings, "customers", "customer_id") == [
        ("acme", "Acme Corp", dt.date(2026, 1, 5), "customers.csv", 2)
    ]
    assert _table(settings, "subscriptions", "subscription_id") == []
    assert _table(settings, "quarantine", "line_number") == []
    assert [result.rows_read for result in results] == [1, 0]


def test_customers_skipped_without_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCES__CUSTOMERS__BUCKET_URL", raising=False)
    context = RunContext(settings=_settings(tmp_path), run_id="run-1", command="extract")

    with pytest.raises(SourceSkippedError, match="SOURCES__CUSTOMERS__BUCKET_URL is not set"):
        extract(context)


def test_customers_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCES__CUSTOMERS__BUCKET_URL", raising=False)
    _write_files(tmp_path / "data" / "customers", CUSTOMERS_CSV, SUBSCRIPTIONS_CSV)
    settings = _settings(tmp_path)

    results = extract(RunContext(settings=settings, run_id="run-1", command="extract"))

    assert [result.rows_loaded for result in results] == [2, 3]


def test_customers_missing_file(configured: tuple[Settings, Path]) -> None:
    settings, folder = configured
    (folder / "subscriptions.csv").unlink()

    with pytest.raises(FileNotFoundError, match=r"subscriptions\.csv not found"):
        extract(RunContext(settings=settings, run_id="run-1", command="extract"))


def test_parse_missing_column() -> None:
    with pytest.raises(InvalidFileError, match="missing the column\\(s\\) created_date"):
        parse_customers("customer_id,customer_name\nacme,Acme\n", "customers.csv")


def test_parse_quoted_line_break() -> None:
    text = (
        'customer_id,customer_name,created_date\nacme,"Acme\nCorp",2026-01-05\nbeta,,2026-01-05\n'
    )

    parsed = parse_customers(text, "customers.csv")

    assert parsed.rows[0]["customer_name"] == "Acme\nCorp"
    assert parsed.quarantine[0]["line_number"] == 4
    assert parsed.quarantine[0]["reason"] == "missing customer_name"


def test_parse_subscription_field_errors() -> None:
    rows = [
        ",acme,starter,2026-03-01,,,",
        "s2,acme,starter,01/03/2026,,,",
        "s3,acme,starter,2026-03-01,,-5,",
        "s4,acme,starter,2026-03-01,,12.5x,",
        "s5,acme,starter,2026-03-01,,0.0000000000001,",
        f"s6,{'x' * 257},starter,2026-03-01,,,",
    ]
    text = SUBSCRIPTIONS_HEADER + "\n".join(rows) + "\n"

    parsed = parse_subscriptions(text, "subscriptions.csv")

    reasons = [row["reason"] for row in parsed.quarantine]
    assert reasons == [
        "missing subscription_id",
        "invalid start_date '01/03/2026' (expected YYYY-MM-DD)",
        "negotiated_fee -5 is negative",
        "invalid negotiated_fee '12.5x' (expected a number like 49.00)",
        "invalid negotiated_fee '0.0000000000001' (more than 12 decimal places)",
        "customer_id is longer than 256 characters",
    ]
    assert parsed.rows_rejected == 6
    assert parsed.rows_loaded == 0
