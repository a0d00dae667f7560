"""Edge cases of the incremental nightly run that a full refresh of the same data gets right."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from llmeter.demo.command import source_environment
from llmeter.demo.company import DemoOptions
from llmeter.demo.fake_apis import FakeProviderServer
from llmeter.demo.simulator import generate_demo
from tests.conftest import PROJECT_ROOT, DemoBuild

pytestmark = pytest.mark.slow

OPTIONS = DemoOptions(customers=8, days=14, calls_per_day=100, as_of=dt.date(2026, 10, 16), seed=5)
# Inside the providers' 3-day look-back, which the second run reads again.
RESTATED_DAY = OPTIONS.as_of - dt.timedelta(days=2)


def run_llmeter(
    build: DemoBuild, arguments: list[str], prepare: Callable[[FakeProviderServer], None]
) -> None:
    """Run `llmeter <arguments>` on `build` against fake Admin APIs that `prepare` set up."""
    now = dt.datetime.combine(OPTIONS.as_of, dt.time(), tzinfo=dt.UTC)
    with FakeProviderServer.from_demo_folder(build.files, now=now) as server:
        prepare(server)
        environment = build.environment(**source_environment(build.files, server, OPTIONS))
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


def allocated_cost_on(warehouse: Path, day: dt.date) -> tuple[Decimal, Decimal]:
    """Return the customers' allocated cost of `day` in fct_customer_daily_costs and over calls."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        daily = connection.execute(
            "select sum(allocated_cost_usd) from marts.fct_customer_daily_costs "
            "where usage_date = ? and not is_unattributed",
            [day],
        ).fetchone()
        calls = connection.execute(
            "select sum(allocated_cost_usd) from intermediate.int_llm_calls_allocated "
            "where usage_date = ?",
            [day],
        ).fetchone()
    assert daily is not None
    assert calls is not None
    return daily[0], calls[0]


def test_restated_cost_after_future_dated_call(tmp_path: Path) -> None:
    files = tmp_path / "files"
    generate_demo(OPTIONS, files)
    # One call dated a month after the run's as-of date. The loader rejects calls dated more
    # than a day after the load, and this one is in the past of the machine's clock.
    first_line = (
        (files / "call_logs" / f"{RESTATED_DAY.isoformat()}.ndjson")
        .read_text(encoding="utf-8")
        .splitlines()[0]
    )
    skewed = json.loads(first_line) | {
        "event_id": "skewed-clock-0001",
        "occurred_at": "2026-11-14T12:00:00.000Z",
    }
    (files / "call_logs" / "skewed-clock.ndjson").write_text(
        json.dumps(skewed) + "\n", encoding="utf-8"
    )
    build = DemoBuild(
        root=tmp_path,
        files=files,
        warehouse=tmp_path / "warehouse" / "llmeter.duckdb",
        published=tmp_path / "warehouse" / "published" / "llmeter.duckdb",
        as_of=OPTIONS.as_of.isoformat(),
        output="",
    )
    run_llmeter(build, ["run"], lambda server: None)

    def restate_costs(server: FakeProviderServer) -> None:
        # Both providers now bill twice the amounts of every day this run reads again.
        server.scale_amounts("openai", 2)
        server.scale_amounts("anthropic", 2)

    run_llmeter(build, ["run"], restate_costs)

    daily, calls = allocated_cost_on(build.warehouse, RESTATED_DAY)
    assert daily > 0
    # int_llm_calls_allocated splits each customer's allocated cost over its calls exactly, so
    # the day's calls add up to the day's customer costs, as in a full refresh.
    assert calls == daily
