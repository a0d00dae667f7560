"""An incremental nightly run after a new day builds the same tables as a full refresh."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from llmeter.demo.command import source_environment
from llmeter.demo.company import DemoOptions
from llmeter.demo.fake_apis import FakeProviderServer
from llmeter.demo.simulator import generate_demo
from tests.conftest import PROJECT_ROOT, DemoBuild
from tests.test_demo_reruns import changed_tables, snapshot

pytestmark = pytest.mark.slow

# 20 days of history and the new day 2026-10-15. No calendar month is complete in the period,
# so there is no invoice that only a later day could close.
HISTORY_DAYS = 20
OPTIONS = DemoOptions(
    customers=10, days=HISTORY_DAYS + 1, calls_per_day=200, as_of=dt.date(2026, 10, 16), seed=5
)
NEW_DAY = OPTIONS.as_of - dt.timedelta(days=1)


def make_build(root: Path, files: Path) -> DemoBuild:
    return DemoBuild(
        root=root,
        files=files,
        warehouse=root / "warehouse" / "llmeter.duckdb",
        published=root / "warehouse" / "published" / "llmeter.duckdb",
        as_of=OPTIONS.as_of.isoformat(),
        output="",
    )


def run_llmeter(build: DemoBuild, as_of: dt.date, *arguments: str) -> None:
    """Run `llmeter <arguments>` on `build` as of `as_of`, with the fake Admin APIs at `as_of`."""
    history = DemoOptions(
        customers=OPTIONS.customers,
        days=HISTORY_DAYS,
        calls_per_day=OPTIONS.calls_per_day,
        as_of=as_of,
        seed=OPTIONS.seed,
    )
    now = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
    with FakeProviderServer.from_demo_folder(build.files, now=now) as server:
        environment = build.environment(**source_environment(build.files, server, history))
        result = subprocess.run(
            [sys.executable, "-m", "llmeter.cli", *arguments],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]


def count_calls_on(warehouse: Path, day: dt.date) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        row = connection.execute(
            "select count(*) from marts.fct_llm_calls where usage_date = ?", [day]
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_nightly_run_equals_full_refresh(tmp_path: Path) -> None:
    files = tmp_path / "files"
    generate_demo(OPTIONS, files)
    new_day_file = files / "call_logs" / f"{NEW_DAY.isoformat()}.ndjson"
    held_back = tmp_path / new_day_file.name
    new_day_file.replace(held_back)
    new_day_calls = held_back.read_text(encoding="utf-8").count("\n")

    incremental = make_build(tmp_path / "incremental", files)
    run_llmeter(incremental, NEW_DAY, "run")
    assert count_calls_on(incremental.warehouse, NEW_DAY) == 0

    held_back.replace(new_day_file)
    run_llmeter(incremental, OPTIONS.as_of, "run")

    full = make_build(tmp_path / "full", files)
    shutil.copytree(incremental.root / "warehouse", full.root / "warehouse")
    run_llmeter(full, OPTIONS.as_of, "build", "--full-refresh")

    incremental_tables = snapshot(incremental.warehouse, ("marts", "intermediate"))
    full_tables = snapshot(full.warehouse, ("marts", "intermediate"))
    # Calls that completed in the new day's last minute sit in the next day's file, which
    # does not exist yet, so the new day has at most as many calls as its file has lines.
    assert 0 < count_calls_on(incremental.warehouse, NEW_DAY) <= new_day_calls
    assert "intermediate.int_llm_calls_priced" in incremental_tables
    assert sorted(incremental_tables) == sorted(full_tables)
    assert changed_tables(full_tables, incremental_tables) == []
