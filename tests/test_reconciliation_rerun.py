"""A warehouse whose invoices reconcile: the checks pass, and a rebuild changes nothing.

openai bills $10.00 a day. Its September invoice states $300.40 against $300.00 of cost data,
within the tolerance of $1.502 (0.5% of $300.40). October has usage and no invoice yet, which
is `pending` and passes. The models are first built before the invoices source ever ran, when
`raw_invoices.invoices` does not exist.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from llmeter.settings import Settings
from llmeter.steps import run_steps, step_named
from pipelines.invoices import extract
from tests.reconciliation_warehouse import (
    PROJECT_ROOT,
    ProviderDays,
    build_reconciliation,
    create_upstream_tables,
    insert_costs,
    make_context,
    make_settings,
    write_invoice_file,
)

pytestmark = pytest.mark.slow

MART_QUERY = """
select * exclude (reconciliation_id)
from marts.fct_invoice_reconciliation
order by provider, period_start_date
"""


@dataclass(frozen=True)
class ReconciledBuild:
    """The built warehouse, and the mart as it was before any invoice was loaded."""

    settings: Settings
    rows_without_invoices: list[tuple[object, ...]]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReconciledBuild]:
    root = tmp_path_factory.mktemp("reconciled")
    settings = make_settings(root, as_of_date=dt.date(2026, 10, 20), project_root=root)
    create_upstream_tables(settings.warehouse_path)
    insert_costs(
        settings.warehouse_path,
        [ProviderDays("openai", dt.date(2026, 9, 1), dt.date(2026, 10, 19), Decimal("10.00"))],
    )
    build_reconciliation(settings, root / "target")
    rows_without_invoices = _statuses(settings)

    write_invoice_file(
        root / "invoices" / "2026-10.csv",
        ["openai,INV-OA-09,2026-09-01,2026-09-30,USD,300.40,0,0,300.40"],
        modified_at=dt.datetime(2026, 10, 3),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCES__INVOICES__BUCKET_URL", str(root / "invoices"))
        extract(make_context(settings, "extract"))
    build_reconciliation(settings, root / "target")
    (root / "gx").mkdir()
    shutil.copy(PROJECT_ROOT / "gx" / "great_expectations.yml", root / "gx")
    yield ReconciledBuild(settings, rows_without_invoices)


@pytest.fixture(scope="module")
def settings(build: ReconciledBuild) -> Settings:
    return build.settings


def _statuses(settings: Settings) -> list[tuple[object, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(
            "select invoice_id, period_start_date, status, billed_cost_usd "
            "from marts.fct_invoice_reconciliation order by period_start_date"
        ).fetchall()


def _mart(settings: Settings) -> list[tuple[object, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(MART_QUERY).fetchall()


def _audit(settings: Settings, run_id: str) -> dict[str, tuple[str, str]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        rows = connection.execute(
            "select subject, status, message from audit.run_audit "
            "where run_id = ? and step = 'check'",
            [run_id],
        ).fetchall()
    return {subject: (status, message) for subject, status, message in rows}


def test_usage_is_pending_before_any_invoice(build: ReconciledBuild) -> None:
    assert build.rows_without_invoices == [
        (None, dt.date(2026, 9, 1), "pending", Decimal("300.00")),
        (None, dt.date(2026, 10, 1), "pending", Decimal("190.00")),
    ]


def test_statuses(settings: Settings) -> None:
    assert _statuses(settings) == [
        ("INV-OA-09", dt.date(2026, 9, 1), "reconciled", Decimal("300.00")),
        (None, dt.date(2026, 10, 1), "pending", Decimal("190.00")),
    ]


def test_publish_and_check_pass(settings: Settings) -> None:
    context = make_context(settings, "run")
    context.run_id = "run-passing"

    succeeded = run_steps(context, [step_named("publish"), step_named("check")])

    assert succeeded is True
    audit = _audit(settings, "run-passing")
    assert audit["gx:fct_invoice_reconciliation"][0] == "succeeded"
    assert audit["gx:fct_invoice_reconciliation_monthly"][0] == "succeeded"
    assert audit["gx:fct_customer_daily_costs"][0] == "succeeded"
    assert audit["gx:fct_customer_daily_margins"] == (
        "skipped",
        "the published file has no such mart",
    )
    assert audit[""][1].startswith("3 marts checked, 7 skipped. Data Docs: file://")


def test_rebuild_gives_same_mart(settings: Settings, tmp_path: Path) -> None:
    before = _mart(settings)

    build_reconciliation(settings, tmp_path / "target")

    assert _mart(settings) == before
    assert len(before) == 2
