"""The publish step: a complete, read-only copy of the marts that BI can hold open."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter import audit
from llmeter.publish import STORAGE_VERSION, run_publish
from llmeter.settings import Settings
from llmeter.steps import RunContext, StepFailedError

# A reader process that keeps one connection open in a transaction for its whole life. It
# reports the run it saw first and every run id it saw later on that same connection.
HOLDING_READER = """
import json, os, sys, time
import duckdb

path, ready_file, stop_file = sys.argv[1:4]
connection = duckdb.connect(path, read_only=True)
connection.execute("begin transaction")
first = connection.execute("select run_id from audit.publish_version").fetchone()[0]
open(ready_file, "w").write(first)
seen = set()
while not os.path.exists(stop_file):
    seen.add(connection.execute("select run_id from audit.publish_version").fetchone()[0])
    connection.execute("select count(*) from marts.fct_margins").fetchone()
    time.sleep(0.005)
connection.execute("commit")
connection.close()
print(json.dumps({"first": first, "seen": sorted(seen)}))
"""

# A reader process that opens the published file again and again. In each connection it
# reads, inside one transaction, the version row, the row counts the publish recorded and the
# run marker of two tables, and reports any disagreement among them.
POLLING_READER = """
import json, os, sys, time
import duckdb

path, ready_file, stop_file = sys.argv[1:4]
seen, problems, reads = set(), [], 0
while not os.path.exists(stop_file):
    try:
        connection = duckdb.connect(path, read_only=True)
    except duckdb.Error as error:
        problems.append("connect: " + str(error))
        continue
    try:
        connection.execute("begin transaction")
        run_id = connection.execute("select run_id from audit.publish_version").fetchone()[0]
        for schema, table, expected in connection.execute(
            "select table_schema, table_name, row_count from audit.published_tables"
        ).fetchall():
            actual = connection.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            if actual != expected:
                problems.append(f"{run_id} {schema}.{table}: {actual} rows, manifest {expected}")
        for table in ("fct_margins", "dim_things"):
            markers = connection.execute(
                f"select distinct run_marker from marts.{table}"
            ).fetchall()
            if markers != [(run_id,)]:
                problems.append(f"{run_id} marts.{table}: markers {markers}")
        connection.execute("commit")
        seen.add(run_id)
        reads += 1
        if not os.path.exists(ready_file):
            open(ready_file, "w").write(run_id)
    except duckdb.Error as error:
        problems.append("read: " + str(error))
    finally:
        connection.close()
print(json.dumps({"seen": sorted(seen), "problems": problems, "reads": reads}))
"""


def _write_marts(warehouse: Path, run_marker: str, margin_rows: int) -> None:
    """Replace the two test marts, stamping every row with `run_marker`."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists marts")
        connection.execute(
            """
            create or replace table marts.fct_margins as
            select
                'customer-' || i as customer_id,
                cast(i * 0.000000000001 as decimal(38, 18)) as revenue_usd,
                cast(i * 1.5 as decimal(38, 6)) as gross_margin_pct,
                ? as run_marker
            from range(?) as numbers(i)
            """,
            [run_marker, margin_rows],
        )
        connection.execute(
            """
            create or replace table marts.dim_things as
            select 'thing-' || i as thing_id, ? as run_marker from range(3) as numbers(i)
            """,
            [run_marker],
        )
        # A view that names its table with the catalog, the way dbt writes views.
        connection.execute(
            """
            create or replace view marts.margin_totals as
            select run_marker, sum(revenue_usd) as revenue_usd
            from "llmeter"."marts"."fct_margins"
            group by run_marker
            """
        )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a warehouse with two marts and one run_audit row."""
    warehouse = tmp_path / "warehouse" / "llmeter.duckdb"
    warehouse.parent.mkdir()
    _write_marts(warehouse, "run-1", margin_rows=10)
    audit.write_rows(
        warehouse,
        "1GB",
        run_id="run-1",
        command="run",
        step="build",
        started_at=dt.datetime(2026, 11, 1, 2, 0),
        ended_at=dt.datetime(2026, 11, 1, 2, 5),
        status="succeeded",
        subjects=[audit.SubjectResult("dbt models", details={"problems": []})],
    )
    return Settings(
        project_root=tmp_path,
        warehouse_path=warehouse,
        published_path=tmp_path / "warehouse" / "published" / "llmeter.duckdb",
        memory_limit="1GB",
        as_of_date=dt.date(2026, 11, 1),
    )


def _context(settings: Settings, run_id: str) -> RunContext:
    return RunContext(settings=settings, run_id=run_id, command="publish")


def _column_types(path: Path, table: str) -> list[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(f"describe {table}").fetchall()
    return [(str(row[0]), str(row[1])) for row in rows]


def _row_count(path: Path, table: str) -> int:
    with duckdb.connect(str(path), read_only=True) as connection:
        row = connection.execute(f"select count(*) from {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_publish_copies_tables(settings: Settings) -> None:
    result = run_publish(_context(settings, "20261101T020000Z-aaaa0001"))
    published = settings.published_path

    counts = {subject.subject: subject.rows_loaded for subject in result.subjects}
    assert counts == {
        "marts.dim_things": 3,
        "marts.fct_margins": 10,
        "marts.margin_totals": 1,
        "audit.run_audit": 2,
    }
    assert all(subject.is_balanced for subject in result.subjects)
    for table in (
        "marts.fct_margins",
        "marts.dim_things",
        "marts.margin_totals",
        "audit.run_audit",
    ):
        assert _row_count(published, table) == _row_count(settings.warehouse_path, table)
        assert _column_types(published, table) == _column_types(settings.warehouse_path, table)


def test_publish_materializes_views(settings: Settings) -> None:
    run_publish(_context(settings, "20261101T020000Z-aaaa0001"))

    with duckdb.connect(str(settings.published_path), read_only=True) as connection:
        kinds = connection.execute(
            "select table_type from information_schema.tables where table_name = 'margin_totals'"
        ).fetchall()
        totals = connection.execute("select * from marts.margin_totals").fetchall()
    assert kinds == [("BASE TABLE",)]
    # 0 + 1 + ... + 9 pico-dollars.
    assert totals == [("run-1", Decimal("0.000000000045"))]


def test_publish_keeps_decimal_types(settings: Settings) -> None:
    run_publish(_context(settings, "20261101T020000Z-aaaa0001"))

    types = dict(_column_types(settings.published_path, "marts.fct_margins"))
    assert types["revenue_usd"] == "DECIMAL(38,18)"
    assert types["gross_margin_pct"] == "DECIMAL(38,6)"
    with duckdb.connect(str(settings.published_path), read_only=True) as connection:
        row = connection.execute(
            "select revenue_usd from marts.fct_margins where customer_id = 'customer-7'"
        ).fetchone()
    assert row == (Decimal("0.000000000007"),)


def test_publish_writes_old_storage_format(settings: Settings) -> None:
    run_publish(_context(settings, "20261101T020000Z-aaaa0001"))

    with duckdb.connect(str(settings.published_path), read_only=True) as connection:
        tags = connection.execute(
            "select tags from duckdb_databases() where database_name = 'llmeter'"
        ).fetchone()
        version = connection.execute(
            "select run_id, storage_version, table_count from audit.publish_version"
        ).fetchall()
    assert tags == ({"storage_version": "v1.0.0+"},)
    assert version == [("20261101T020000Z-aaaa0001", STORAGE_VERSION, 4)]


def test_publish_writes_parquet_version(settings: Settings) -> None:
    run_publish(_context(settings, "20261101T020000Z-aaaa0001"))
    parquet_root = settings.published_path.parent / "parquet"

    assert (parquet_root / "CURRENT").read_text(encoding="utf-8") == (
        "v20261101T020000Z-aaaa0001\n"
    )
    folder = parquet_root / "v20261101T020000Z-aaaa0001"
    assert sorted(path.name for path in folder.iterdir()) == [
        "_manifest.json",
        "audit.run_audit",
        "marts.dim_things",
        "marts.fct_margins",
        "marts.margin_totals",
    ]
    # The marts have no usage_date column, so each is one file.
    assert [path.name for path in (folder / "marts.fct_margins").iterdir()] == ["data.parquet"]
    with duckdb.connect() as connection:
        parquet_types = connection.execute(
            f"describe select * from read_parquet('{folder / 'marts.fct_margins' / '*.parquet'}')"
        ).fetchall()
    assert ("revenue_usd", "DECIMAL(38,18)") in [(row[0], row[1]) for row in parquet_types]
    manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
    tables = {(entry["schema"], entry["table"]): entry for entry in manifest["tables"]}
    assert tables[("marts", "fct_margins")]["rows"] == 10
    assert [file["path"] for file in tables[("marts", "fct_margins")]["files"]] == [
        "marts.fct_margins/data.parquet"
    ]


def test_publish_keeps_two_parquet_versions(settings: Settings) -> None:
    for run_id in ("20261101T020000Z-aaaa0001", "20261102T020000Z-aaaa0002"):
        run_publish(_context(settings, run_id))
    run_publish(_context(settings, "20261103T020000Z-aaaa0003"))
    parquet_root = settings.published_path.parent / "parquet"

    folders = sorted(path.name for path in parquet_root.iterdir() if path.is_dir())
    assert folders == ["v20261102T020000Z-aaaa0002", "v20261103T020000Z-aaaa0003"]
    assert (parquet_root / "CURRENT").read_text(encoding="utf-8") == (
        "v20261103T020000Z-aaaa0003\n"
    )
    leftovers = [path.name for path in settings.published_path.parent.iterdir()]
    assert sorted(leftovers) == ["llmeter.duckdb", "parquet"]


def test_publish_without_marts_fails(settings: Settings) -> None:
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute("drop schema marts cascade")

    with pytest.raises(StepFailedError, match="no tables in schema marts"):
        run_publish(_context(settings, "20261101T020000Z-aaaa0001"))
    assert not settings.published_path.exists()
    assert list((settings.published_path.parent / "parquet").iterdir()) == []


def _start_reader(script: str, settings: Settings, name: str) -> tuple[subprocess.Popen[str], Path]:
    ready_file = settings.project_root / f"{name}.ready"
    stop_file = settings.project_root / "stop"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            str(settings.published_path),
            str(ready_file),
            str(stop_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, ready_file


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path.name} not written within 60 s"
        time.sleep(0.02)


def _stop(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    result: dict[str, Any] = json.loads(stdout)
    return result


@pytest.mark.slow
def test_publish_while_readers_hold_file(settings: Settings) -> None:
    first, second, third = (
        "20261101T020000Z-aaaa0001",
        "20261102T020000Z-aaaa0002",
        "20261103T020000Z-aaaa0003",
    )
    _write_marts(settings.warehouse_path, first, margin_rows=10)
    run_publish(_context(settings, first))

    holder, holder_ready = _start_reader(HOLDING_READER, settings, "holder")
    poller, poller_ready = _start_reader(POLLING_READER, settings, "poller")
    try:
        _wait_for(holder_ready, holder)
        _wait_for(poller_ready, poller)

        # Each version has its own row count and run marker, so a reader that mixed two
        # versions would see a marker or a count that disagrees with publish_version.
        for run_id, margin_rows in ((second, 2000), (third, 35)):
            _write_marts(settings.warehouse_path, run_id, margin_rows=margin_rows)
            started = time.monotonic()
            result = run_publish(_context(settings, run_id))
            assert time.monotonic() - started < 60
            assert result.status == "succeeded"
        time.sleep(0.5)
    finally:
        (settings.project_root / "stop").write_text("", encoding="utf-8")
        held = _stop(holder)
        polled = _stop(poller)

    assert held == {"first": first, "seen": [first]}
    assert polled["problems"] == []
    assert third in polled["seen"]
    assert set(polled["seen"]) <= {first, second, third}
    assert _row_count(settings.published_path, "marts.fct_margins") == 35
