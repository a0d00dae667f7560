"""The publish step starting from the previous version: the same tables as a copy of all.

The warehouse here is small and built by hand. `marts.fct_calls` has 4 calls a day from
2026-01-01 to 2026-03-05 (64 days, 256 rows). `marts.fct_daily` has one row per customer and
day plus one row without a date. Two more tables have a usage_date column and three have none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from llmeter import audit
from llmeter.audit import SubjectResult
from llmeter.publish import run_publish
from llmeter.settings import Settings
from llmeter.steps import RunContext, StepResult

FIRST_RUN = "20261101T020000Z-aaaa0001"
SECOND_RUN = "20261102T020000Z-aaaa0002"
THIRD_RUN = "20261103T020000Z-aaaa0003"


def _rebuild_daily(connection: duckdb.DuckDBPyConnection) -> None:
    """Rebuild fct_daily from fct_calls, the way dbt rebuilds a table mart."""
    connection.execute(
        """
        create or replace table marts.fct_daily as
        select customer_id, usage_date, sum(cost_usd) as cost_usd, count(*) as calls
        from marts.fct_calls
        group by customer_id, usage_date
        union all
        select 'unattributed', null, cast('0.5' as decimal(38, 18)), 0
        """
    )


def _build_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        connection.execute(
            """
            create table marts.fct_calls as
            select
                'call-' || i as call_id,
                'customer-' || (i % 3) as customer_id,
                cast(date '2026-01-01' + cast(i // 4 as integer) as date) as usage_date,
                cast(i * 100 as bigint) as input_tokens,
                -- i pico-dollars, exact.
                cast('0.' || lpad(cast(i as varchar), 12, '0') as decimal(38, 18)) as cost_usd,
                case when i % 5 = 0 then null else 'tag-' || (i % 2) end as tag
            from range(256) as numbers(i)
            """
        )
        _rebuild_daily(connection)
        connection.execute(
            """
            create table marts.dim_customers as
            select 'customer-' || i as customer_id, 'Customer ' || i as customer_name
            from range(3) as numbers(i)
            """
        )
        connection.execute(
            """
            create table marts.dim_plans as
            select 'plan-' || i as plan_id, cast(i * 10 as decimal(38, 6)) as price_usd
            from range(2) as numbers(i)
            """
        )
        connection.execute(
            "create table marts.fct_old as select 'gone' as what, date '2026-01-01' as usage_date"
        )
        connection.execute(
            """
            create table marts.fct_tokens as
            select
                date '2026-01-01' + cast(i as integer) as usage_date,
                cast(i as integer) as tokens
            from range(3) as numbers(i)
            """
        )
        # A view that names its table with the catalog, the way dbt writes views.
        connection.execute(
            """
            create view marts.customer_totals as
            select customer_id, sum(cost_usd) as cost_usd
            from "llmeter"."marts"."fct_calls"
            group by customer_id
            """
        )
    _write_audit_row(path, FIRST_RUN)


def _write_audit_row(path: Path, run_id: str) -> None:
    audit.write_rows(
        path,
        "1GB",
        run_id=run_id,
        command="run",
        step="build",
        started_at=dt.datetime(2026, 11, 1, 2, 0),
        ended_at=dt.datetime(2026, 11, 1, 2, 5),
        status="succeeded",
    )


def _change_warehouse(path: Path) -> None:
    """Change two days, remove one, add one, and change, add and drop tables."""
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "update marts.fct_calls set cost_usd = 1 where call_id = 'call-164'"
        )  # 2026-02-10
        connection.execute("delete from marts.fct_calls where call_id = 'call-204'")  # 2026-02-20
        connection.execute("delete from marts.fct_calls where usage_date = date '2026-03-01'")
        connection.execute(
            """
            insert into marts.fct_calls
            select
                'call-new-' || i,
                'customer-' || (i % 3),
                date '2026-03-06',
                cast(i as bigint),
                cast('0.000001' as decimal(38, 18)),
                null
            from range(4) as numbers(i)
            """
        )
        _rebuild_daily(connection)
        connection.execute(
            "update marts.dim_customers set customer_name = 'Renamed' "
            "where customer_id = 'customer-1'"
        )
        connection.execute(
            """
            create or replace table marts.dim_plans as
            select 'plan-' || i as plan_id, cast(i * 10 as decimal(38, 18)) as price_usd
            from range(2) as numbers(i)
            """
        )
        connection.execute("drop table marts.fct_old")
        # The same values in a wider type: the rows hash alike, the column types differ.
        connection.execute("alter table marts.fct_tokens alter tokens set data type bigint")
        connection.execute(
            """
            create table marts.fct_new as
            select 'new-' || i as new_id, date '2026-03-01' + cast(i as integer) as usage_date
            from range(2) as numbers(i)
            """
        )
    _write_audit_row(path, SECOND_RUN)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    warehouse = tmp_path / "warehouse" / "llmeter.duckdb"
    warehouse.parent.mkdir()
    _build_warehouse(warehouse)
    return Settings(
        project_root=tmp_path,
        warehouse_path=warehouse,
        published_path=tmp_path / "warehouse" / "published" / "llmeter.duckdb",
        memory_limit="1GB",
        as_of_date=dt.date(2026, 11, 1),
    )


def _publish(settings: Settings, run_id: str) -> StepResult:
    return run_publish(RunContext(settings=settings, run_id=run_id, command="publish"))


def _subjects(result: StepResult) -> dict[str, SubjectResult]:
    return {subject.subject: subject for subject in result.subjects}


def _version_folder(settings: Settings, run_id: str) -> Path:
    return settings.published_path.parent / "parquet" / f"v{run_id}"


@pytest.fixture
def compare_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to which a test attaches two published files, as `left` and `right`."""
    with duckdb.connect() as connection:
        yield connection


def _tables(connection: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = connection.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where database_name = ? order by 1",
        [catalog],
    ).fetchall()
    return [str(row[0]) for row in rows]


def _compared_columns(table: str) -> str:
    """The columns to compare: all but those that name the run or the time of publishing."""
    if table == "audit.publish_version":
        return "* exclude (run_id, published_at)"
    if table == "audit.published_tables":
        return "* exclude (run_id)"
    return "*"


def _assert_same_content(connection: duckdb.DuckDBPyConnection, left: Path, right: Path) -> None:
    """Assert that two published files hold the same tables, column types and rows."""
    connection.execute(f"attach '{left}' as left_file (read_only)")
    connection.execute(f"attach '{right}' as right_file (read_only)")
    tables = _tables(connection, "left_file")
    assert tables == _tables(connection, "right_file")
    for table in tables:
        left_table, right_table = f"left_file.{table}", f"right_file.{table}"
        left_types = connection.execute(f"describe {left_table}").fetchall()
        right_types = connection.execute(f"describe {right_table}").fetchall()
        assert [row[:2] for row in left_types] == [row[:2] for row in right_types], table
        columns = _compared_columns(table)
        for first, second in ((left_table, right_table), (right_table, left_table)):
            extra = connection.execute(
                f"select count(*) from (select {columns} from {first} "
                f"except all select {columns} from {second})"
            ).fetchone()
            assert extra == (0,), f"{table}: rows of {first} missing from {second}"
        left_count = connection.execute(f"select count(*) from {left_table}").fetchone()
        right_count = connection.execute(f"select count(*) from {right_table}").fetchone()
        assert left_count == right_count, table


def _full_publish(settings: Settings, tmp_path: Path, run_id: str) -> Path:
    """Publish the same warehouse to a new folder, where every table is copied in full."""
    fresh = dataclasses.replace(
        settings, published_path=tmp_path / "fresh" / run_id / "llmeter.duckdb"
    )
    result = _publish(fresh, run_id)
    methods = {subject.details["method"] for subject in result.subjects}
    assert methods == {"copied_in_full"}
    return fresh.published_path


def test_incremental_equals_full_copy(
    settings: Settings, tmp_path: Path, compare_connection: duckdb.DuckDBPyConnection
) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)

    _publish(settings, SECOND_RUN)
    full = _full_publish(settings, tmp_path, SECOND_RUN)

    _assert_same_content(compare_connection, settings.published_path, full)


def test_incremental_subjects_say_what_changed(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)

    result = _publish(settings, SECOND_RUN)
    subjects = _subjects(result)

    assert sorted(subjects) == [
        "audit.run_audit",
        "marts.customer_totals",
        "marts.dim_customers",
        "marts.dim_plans",
        "marts.fct_calls",
        "marts.fct_daily",
        "marts.fct_new",
        "marts.fct_tokens",
    ]
    calls = subjects["marts.fct_calls"]
    # 256 rows - 4 of 2026-03-01 - call-204 + 4 new calls of 2026-03-06.
    assert calls.rows_read == 255
    assert calls.rows_loaded == 255
    # Written: 2026-02 and 2026-03-06. Linked: 2026-01 and 2026-03-02 to 2026-03-05.
    assert calls.message == (
        "2 of 64 days replaced, 1 added, 1 removed; Parquet: 2 files written, 5 linked"
    )
    # Written: 4 rows of 2026-02-10, 3 of 2026-02-20, 4 of 2026-03-06. Deleted: the 4 rows
    # that each of 2026-02-10, 2026-02-20 and 2026-03-01 had.
    assert calls.details["rows_written"] == 11
    assert calls.details["rows_deleted"] == 12
    # 64 dated days and the day of the row without a date.
    assert subjects["marts.fct_daily"].message == (
        "2 of 65 days replaced, 1 added, 1 removed; Parquet: 2 files written, 6 linked"
    )
    assert subjects["marts.dim_customers"].message == (
        "copied in full (rows changed); Parquet: 1 file written, 0 linked"
    )
    assert subjects["marts.dim_plans"].details["reason"] == "columns changed"
    assert subjects["marts.fct_new"].details["reason"] == "new table"
    assert subjects["marts.fct_tokens"].details["reason"] == "columns changed"
    assert subjects["marts.customer_totals"].details["reason"] == "rows changed"
    assert subjects["audit.run_audit"].details["reason"] == "rows changed"
    assert result.message.endswith(
        f"starting from the version of run {FIRST_RUN}: "
        "0 unchanged, 2 with days replaced, 6 copied in full"
    )


def test_incremental_drops_removed_table(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)

    _publish(settings, SECOND_RUN)

    with duckdb.connect(str(settings.published_path), read_only=True) as connection:
        old = connection.execute(
            "select count(*) from duckdb_tables() where table_name = 'fct_old'"
        ).fetchone()
        listed = connection.execute(
            "select count(*) from audit.published_tables where table_name = 'fct_old'"
        ).fetchone()
    assert old == (0,)
    assert listed == (0,)


def test_unchanged_warehouse_rewrites_nothing(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    result = _publish(settings, SECOND_RUN)

    subjects = _subjects(result)
    assert {subject.details["method"] for subject in subjects.values()} == {"unchanged"}
    # Two month files and five day files of March.
    assert subjects["marts.fct_calls"].message == ("unchanged; Parquet: 0 files written, 7 linked")
    assert subjects["marts.fct_calls"].details["rows_written"] == 0
    first = _version_folder(settings, FIRST_RUN) / "marts.fct_calls" / "2026-01.parquet"
    second = _version_folder(settings, SECOND_RUN) / "marts.fct_calls" / "2026-01.parquet"
    assert first.stat().st_ino == second.stat().st_ino


def test_incremental_keeps_storage_version(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)
    _publish(settings, SECOND_RUN)

    with duckdb.connect(str(settings.published_path), read_only=True) as connection:
        tags = connection.execute(
            "select tags from duckdb_databases() where database_name = 'llmeter'"
        ).fetchone()
        version = connection.execute(
            "select run_id, storage_version, format_version, table_count from audit.publish_version"
        ).fetchall()
    assert tags == ({"storage_version": "v1.0.0+"},)
    assert version == [(SECOND_RUN, "v1.1.0", 1, 8)]


def test_parquet_split_by_month_and_day(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)

    folder = _version_folder(settings, FIRST_RUN)
    # Months before the latest one get a file each; March, the latest, a file per day.
    assert sorted(path.name for path in (folder / "marts.fct_daily").iterdir()) == [
        "2026-01.parquet",
        "2026-02.parquet",
        "2026-03-01.parquet",
        "2026-03-02.parquet",
        "2026-03-03.parquet",
        "2026-03-04.parquet",
        "2026-03-05.parquet",
        "undated.parquet",
    ]
    with duckdb.connect() as connection:
        files = connection.execute(
            f"""
            select parse_filename(filename, true), min(usage_date), max(usage_date), count(*)
            from read_parquet('{folder / "marts.fct_calls" / "*.parquet"}', filename = true)
            group by filename order by 1
            """
        ).fetchall()
    # 31 and 28 days of 4 calls, then 4 calls a day.
    assert files == [
        ("2026-01", dt.date(2026, 1, 1), dt.date(2026, 1, 31), 124),
        ("2026-02", dt.date(2026, 2, 1), dt.date(2026, 2, 28), 112),
        *[
            (f"2026-03-0{day}", dt.date(2026, 3, day), dt.date(2026, 3, day), 4)
            for day in range(1, 6)
        ],
    ]


def test_parquet_links_unchanged_files(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)
    _publish(settings, SECOND_RUN)

    first = _version_folder(settings, FIRST_RUN) / "marts.fct_calls"
    second = _version_folder(settings, SECOND_RUN) / "marts.fct_calls"
    assert sorted(path.name for path in second.iterdir()) == [
        "2026-01.parquet",
        "2026-02.parquet",
        "2026-03-02.parquet",
        "2026-03-03.parquet",
        "2026-03-04.parquet",
        "2026-03-05.parquet",
        "2026-03-06.parquet",
    ]
    for name, linked in (
        ("2026-01", True),
        ("2026-02", False),
        ("2026-03-02", True),
        ("2026-03-05", True),
    ):
        same_inode = (first / f"{name}.parquet").stat().st_ino == (
            second / f"{name}.parquet"
        ).stat().st_ino
        assert same_inode == linked, name


def test_new_month_merges_days(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute(
            "insert into marts.fct_calls values "
            "('call-april', 'customer-0', date '2026-04-01', 1, 0.5, null)"
        )

    result = _publish(settings, SECOND_RUN)

    folder = _version_folder(settings, SECOND_RUN) / "marts.fct_calls"
    assert sorted(path.name for path in folder.iterdir()) == [
        "2026-01.parquet",
        "2026-02.parquet",
        "2026-03.parquet",
        "2026-04-01.parquet",
    ]
    assert _subjects(result)["marts.fct_calls"].message == (
        "0 of 65 days replaced, 1 added; Parquet: 2 files written, 2 linked"
    )


def _assert_parquet_matches_file(settings: Settings, run_id: str) -> None:
    """Assert that each table's Parquet files hold the rows and types of the published file."""
    folder = _version_folder(settings, run_id)
    manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
    with duckdb.connect() as connection:
        connection.execute(f"attach '{settings.published_path}' as published (read_only)")
        for entry in manifest["tables"]:
            table = f"published.{entry['schema']}.{entry['table']}"
            parquet = f"read_parquet('{folder}/{entry['schema']}.{entry['table']}/*.parquet')"
            table_types = connection.execute(f"describe {table}").fetchall()
            parquet_types = connection.execute(f"describe select * from {parquet}").fetchall()
            assert [row[:2] for row in parquet_types] == [row[:2] for row in table_types], table
            for first, second in ((table, parquet), (parquet, table)):
                extra = connection.execute(
                    f"select count(*) from (from {first} except all from {second})"
                ).fetchone()
                assert extra == (0,), f"{table}: rows of {first} missing from {second}"
        # Every column of every file may hold nulls, as in the published tables, whether or
        # not the rows of that file have any.
        repetitions = connection.execute(
            f"""
            select distinct repetition_type from parquet_schema('{folder}/*/*.parquet')
            where num_children is null
            """
        ).fetchall()
    assert repetitions == [("OPTIONAL",)]


def test_parquet_matches_after_changes(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)
    _publish(settings, SECOND_RUN)

    _assert_parquet_matches_file(settings, SECOND_RUN)


def test_links_survive_pruning(settings: Settings) -> None:
    for run_id in (FIRST_RUN, SECOND_RUN, THIRD_RUN):
        _publish(settings, run_id)

    parquet_root = settings.published_path.parent / "parquet"
    assert not _version_folder(settings, FIRST_RUN).exists()
    assert sorted(path.name for path in parquet_root.iterdir() if path.is_dir()) == [
        f"v{SECOND_RUN}",
        f"v{THIRD_RUN}",
    ]
    january = _version_folder(settings, THIRD_RUN) / "marts.fct_calls" / "2026-01.parquet"
    # Written by the first run, linked by the second and third.
    assert january.stat().st_nlink == 2
    _assert_parquet_matches_file(settings, THIRD_RUN)


def test_stale_pointer_keeps_parquet_right(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)
    _publish(settings, SECOND_RUN)
    # As if the second publish had stopped after replacing the DuckDB file and before the
    # pointer: the file has the second run's rows, CURRENT still names the first run.
    pointer = settings.published_path.parent / "parquet" / "CURRENT"
    pointer.write_text(f"v{FIRST_RUN}\n", encoding="utf-8")

    result = _publish(settings, THIRD_RUN)

    # Compared with the first run's files: 2026-02 and 2026-03-06 are new.
    assert _subjects(result)["marts.fct_calls"].message == (
        "unchanged; Parquet: 2 files written, 5 linked"
    )
    _assert_parquet_matches_file(settings, THIRD_RUN)


def test_other_duckdb_version_rewrites_parquet(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    manifest_file = _version_folder(settings, FIRST_RUN) / "_manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest["duckdb_version"] = "1.4.5"
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")

    result = _publish(settings, SECOND_RUN)

    assert _subjects(result)["marts.fct_calls"].message == (
        "unchanged; Parquet: 7 files written, 0 linked"
    )


def test_most_days_changed_copies_in_full(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute("update marts.fct_calls set input_tokens = input_tokens + 1")

    result = _publish(settings, SECOND_RUN)

    assert _subjects(result)["marts.fct_calls"].details["method"] == "copied_in_full"
    assert _subjects(result)["marts.fct_calls"].details["reason"] == "most rows changed"
    assert _subjects(result)["marts.fct_calls"].details["rows_written"] == 256


def test_edits_to_published_file_are_undone(
    settings: Settings, tmp_path: Path, compare_connection: duckdb.DuckDBPyConnection
) -> None:
    _publish(settings, FIRST_RUN)
    with duckdb.connect(str(settings.published_path)) as connection:
        connection.execute("delete from marts.fct_calls where call_id = 'call-7'")
        connection.execute("update marts.dim_customers set customer_name = 'Edited'")

    result = _publish(settings, SECOND_RUN)

    subjects = _subjects(result)
    assert subjects["marts.fct_calls"].details["days_replaced"] == 1
    assert subjects["marts.dim_customers"].details["reason"] == "rows changed"
    _assert_same_content(
        compare_connection, settings.published_path, _full_publish(settings, tmp_path, "x")
    )


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("create view marts.extra as select 1 as one", "objects a publish does not write: view"),
        (
            "create index calls_by_id on marts.fct_calls (call_id)",
            "objects a publish does not write: index",
        ),
        ("create schema scratch", "objects a publish does not write: schema scratch"),
        ("alter table audit.publish_version drop format_version", "cannot be reused"),
        ("update audit.publish_version set format_version = 0", "has format 0"),
    ],
)
def test_unknown_previous_file_copies_in_full(
    settings: Settings,
    tmp_path: Path,
    compare_connection: duckdb.DuckDBPyConnection,
    statement: str,
    reason: str,
) -> None:
    _publish(settings, FIRST_RUN)
    with duckdb.connect(str(settings.published_path)) as connection:
        connection.execute(statement)

    result = _publish(settings, SECOND_RUN)

    assert {subject.details["method"] for subject in result.subjects} == {"copied_in_full"}
    assert reason in result.message
    _assert_same_content(
        compare_connection, settings.published_path, _full_publish(settings, tmp_path, "x")
    )


def test_first_publish_says_full(settings: Settings) -> None:
    result = _publish(settings, FIRST_RUN)

    assert result.message == (
        f"8 tables published to {settings.published_path}, all copied in full "
        "(no earlier published file)"
    )
    assert _subjects(result)["marts.fct_calls"].message == (
        "copied in full (no earlier published file); Parquet: 7 files written, 0 linked"
    )


def test_publish_keeps_decimal_values(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)
    _publish(settings, SECOND_RUN)

    with duckdb.connect(str(settings.published_path), read_only=True) as connection:
        changed = connection.execute(
            "select cost_usd from marts.fct_calls where call_id = 'call-164'"
        ).fetchone()
        added = connection.execute(
            "select sum(cost_usd) from marts.fct_calls where usage_date = date '2026-03-06'"
        ).fetchone()
    assert changed == (Decimal("1.000000000000000000"),)
    # 4 calls of 0.000001 dollars.
    assert added == (Decimal("0.000004000000000000"),)


def test_empty_dated_table_is_one_file(settings: Settings) -> None:
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute("delete from marts.fct_old")

    _publish(settings, FIRST_RUN)

    folder = _version_folder(settings, FIRST_RUN) / "marts.fct_old"
    assert [path.name for path in folder.iterdir()] == ["data.parquet"]
    with duckdb.connect() as connection:
        types = connection.execute(
            f"describe select * from read_parquet('{folder}/*.parquet')"
        ).fetchall()
    assert [row[:2] for row in types] == [("what", "VARCHAR"), ("usage_date", "DATE")]


def test_no_temporary_files_left(settings: Settings) -> None:
    _publish(settings, FIRST_RUN)
    _change_warehouse(settings.warehouse_path)
    _publish(settings, SECOND_RUN)

    names = sorted(os.listdir(settings.published_path.parent))
    assert names == ["llmeter.duckdb", "parquet"]


def test_many_deleted_rows_start_new_file(
    settings: Settings, tmp_path: Path, compare_connection: duckdb.DuckDBPyConnection
) -> None:
    _publish(settings, FIRST_RUN)
    with duckdb.connect(str(settings.published_path)) as connection:
        connection.execute("delete from marts.fct_calls where usage_date < date '2026-03-01'")

    result = _publish(settings, SECOND_RUN)

    # Deleted: January and February, 59 days of 4 calls. Stored: 256 calls, 193 daily rows
    # (64 days of 3 customers and the undated row), 3 + 2 + 1 + 3 + 3 rows of the small marts,
    # 1 run_audit row, 1 publish_version row and 8 published_tables rows.
    assert "236 of the 471 rows stored in the earlier file are deleted rows" in result.message
    assert {subject.details["method"] for subject in result.subjects} == {"copied_in_full"}
    with duckdb.connect(str(settings.published_path), read_only=True) as connection:
        stored = connection.execute(
            "select estimated_size from duckdb_tables() where table_name = 'fct_calls'"
        ).fetchone()
    assert stored == (256,)
    _assert_same_content(
        compare_connection, settings.published_path, _full_publish(settings, tmp_path, "x")
    )
