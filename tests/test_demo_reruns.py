"""Running the nightly job again on the demo company: idempotence and time-zone independence."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from llmeter.demo.command import source_environment
from llmeter.demo.company import DemoOptions
from llmeter.demo.fake_apis import FakeProviderServer
from tests.conftest import DEMO_OPTIONS, PROJECT_ROOT, DemoBuild, build_demo

pytestmark = pytest.mark.slow

# Columns that record when, by which run or from which path a row was loaded or priced, not its
# content.
PROVENANCE_COLUMNS = (
    "loaded_at",
    "priced_at",
    "extracted_at",
    "_dlt_load_id",
    "_dlt_id",
    "run_id",
    "published_at",
    "source_file",
)


def _demo_options() -> DemoOptions:
    return DemoOptions(
        customers=int(DEMO_OPTIONS["customers"]),
        days=int(DEMO_OPTIONS["days"]),
        calls_per_day=int(DEMO_OPTIONS["calls-per-day"]),
        as_of=dt.date.fromisoformat(DEMO_OPTIONS["as-of"]),
        seed=int(DEMO_OPTIONS["seed"]),
    )


def run_job(build: DemoBuild, *arguments: str, **extra_environment: str) -> str:
    """Run `llmeter <arguments>` on `build` against freshly started fake Admin APIs."""
    options = _demo_options()
    now = dt.datetime.combine(options.as_of, dt.time(), tzinfo=dt.UTC)
    with FakeProviderServer.from_demo_folder(build.files, now=now) as server:
        environment = build.environment(
            **source_environment(build.files, server, options), **extra_environment
        )
        result = subprocess.run(
            [sys.executable, "-m", "llmeter.cli", *arguments],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


def snapshot(warehouse: Path, schemas: tuple[str, ...] = ("marts",)) -> dict[str, list[tuple]]:
    """Every row of every table in `schemas`, sorted, without the columns that name a run.

    DECIMAL money columns come back as Decimal and are compared exactly by `changed_tables`;
    DOUBLE statistics come back as float.
    """
    tables: dict[str, list[tuple]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        names = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({', '.join('?' for _ in schemas)}) "
            # dlt's own bookkeeping tables record every load.
            "and table_name not like '\\_dlt%' escape '\\' order by 1, 2",
            list(schemas),
        ).fetchall()
        for schema, table in names:
            expressions = [
                f'"{column}"'
                for column, _ in connection.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if not any(marker in column for marker in PROVENANCE_COLUMNS)
            ]
            tables[f"{schema}.{table}"] = connection.execute(
                f'select {", ".join(expressions)} from "{schema}"."{table}" order by all'
            ).fetchall()
    return tables


def _same_value(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        # DuckDB's parallel sums of DOUBLE can differ in the last bits between two runs over
        # the same data. A relative 1e-9 is far above that and far below any real change.
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    return left == right


def _same_rows(left: list[tuple], right: list[tuple]) -> bool:
    return len(left) == len(right) and all(
        len(left_row) == len(right_row) and all(map(_same_value, left_row, right_row))
        for left_row, right_row in zip(left, right, strict=True)
    )


def changed_tables(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    """Names of the tables whose rows differ, so that a failure does not print every row."""
    return sorted(
        name
        for name in before.keys() | after.keys()
        if name not in before or name not in after or not _same_rows(before[name], after[name])
    )


def test_second_run_changes_nothing(demo_copy: DemoBuild) -> None:
    before = snapshot(demo_copy.warehouse, ("marts", "intermediate"))
    raw_before = snapshot(demo_copy.warehouse, ("raw_openai", "raw_anthropic", "raw_call_logs"))

    output = run_job(demo_copy, "run")

    assert "Run " in output
    assert changed_tables(before, snapshot(demo_copy.warehouse, ("marts", "intermediate"))) == []
    raw_after = snapshot(demo_copy.warehouse, ("raw_openai", "raw_anthropic", "raw_call_logs"))
    assert changed_tables(raw_before, raw_after) == []


def test_marts_same_under_tokyo_time_zone(demo_build: DemoBuild, tmp_path: Path) -> None:
    tokyo = build_demo(tmp_path / "tokyo", TZ="Asia/Tokyo")
    assert changed_tables(snapshot(demo_build.warehouse), snapshot(tokyo.warehouse)) == []
