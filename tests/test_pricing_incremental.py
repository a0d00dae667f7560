"""int_llm_calls_priced as an incremental model: look-back, late call logs, rebuild window,
and a full re-pricing whenever a price seed changes.

One warehouse goes through five builds in order; each test checks what one build left.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.pricing_warehouse import (
    copy_project,
    create_raw_calls,
    dbt_build,
    insert_calls,
    query,
)

pytestmark = pytest.mark.slow

SELECT = ["+int_llm_calls_priced"]
# The first build runs every data and unit test; the later ones only rebuild.
MODELS_ONLY = ("--exclude", "test_type:data", "test_type:unit")
LOADED = dt.datetime(2026, 10, 20, tzinfo=dt.UTC)
Snapshot = dict[str, tuple[Any, ...]]


def _call(event_id: str, day: str, model: str, **tokens: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": dt.datetime.fromisoformat(f"{day}T12:00:00+00:00"),
        "provider": "openai",
        "model": model,
        "customer_id": "acme",
        "service_tier": "default",
        "project_id": "proj_1",
        "loaded_at": LOADED,
        **tokens,
    }


def _snapshot(warehouse: Path) -> Snapshot:
    rows = query(
        warehouse,
        "select event_id, list_cost_usd, is_priced, price_list_fingerprint "
        "from intermediate.int_llm_calls_priced",
    )
    return {row[0]: row[1:] for row in rows}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snapshot]:
    """The priced calls after each build, by build name."""
    root = tmp_path_factory.mktemp("incremental")
    project = copy_project(root / "project")
    warehouse = root / "incremental.duckdb"
    create_raw_calls(warehouse)
    insert_calls(
        warehouse,
        [
            # 1,000,000 input tokens of gpt-4o at $2.50 per million: $2.50.
            _call("old", "2026-08-01", "gpt-4o-2024-08-06", input_uncached_tokens=1_000_000),
            _call("recent", "2026-10-15", "gpt-4o-2024-08-06", input_uncached_tokens=1_000_000),
            _call("mystery", "2026-08-01", "acme-internal-llm", input_uncached_tokens=1_000_000),
        ],
    )
    snapshots: dict[str, Snapshot] = {}

    dbt_build(project, warehouse, SELECT)
    snapshots["first"] = _snapshot(warehouse)

    dbt_build(project, warehouse, SELECT, extra_arguments=MODELS_ONLY)
    snapshots["unchanged"] = _snapshot(warehouse)

    # The old call's tokens change in the raw table (outside the look-back), and a late call
    # log for an even older day arrives with a later load time.
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "update raw_call_logs.llm_calls set input_uncached_tokens = 2000000 "
            "where event_id = 'old'"
        )
    late = _call("late", "2026-07-01", "gpt-4o-2024-08-06", output_tokens=1_000_000)
    late["loaded_at"] = LOADED + dt.timedelta(days=1)
    insert_calls(warehouse, [late])
    dbt_build(project, warehouse, SELECT, extra_arguments=MODELS_ONLY)
    snapshots["late"] = _snapshot(warehouse)

    dbt_build(
        project,
        warehouse,
        SELECT,
        variables={"rebuild_since_date": "2026-07-31", "rebuild_until_date": "2026-08-01"},
        extra_arguments=MODELS_ONLY,
    )
    snapshots["window"] = _snapshot(warehouse)

    with (project / "seeds" / "contract_prices.csv").open("a", encoding="utf-8") as seed:
        seed.write(
            "openai,gpt-4o,input_uncached,standard,2,per_million_tokens,"
            "2026-01-01 00:00:00,,negotiated rate\n"
        )
    with (project / "seeds" / "model_aliases.csv").open("a", encoding="utf-8") as seed:
        seed.write("openai,acme-internal-llm,gpt-4o\n")
    dbt_build(project, warehouse, SELECT, extra_arguments=MODELS_ONLY)
    snapshots["seeds_changed"] = _snapshot(warehouse)
    return snapshots


def test_first_build_prices_calls(builds: dict[str, Snapshot]) -> None:
    first = builds["first"]

    assert first["old"][:2] == (Decimal("2.5"), True)
    assert first["recent"][:2] == (Decimal("2.5"), True)
    assert first["mystery"][:2] == (None, False)


def test_rebuild_without_changes_keeps_rows(builds: dict[str, Snapshot]) -> None:
    assert builds["unchanged"] == builds["first"]


def test_late_call_log_is_priced(builds: dict[str, Snapshot]) -> None:
    late = builds["late"]

    # 1,000,000 output tokens at $10 per million.
    assert late["late"][:2] == (Decimal("10"), True)
    assert sorted(late) == ["late", "mystery", "old", "recent"]


def test_old_day_outside_look_back_keeps_its_price(builds: dict[str, Snapshot]) -> None:
    assert builds["late"]["old"][0] == Decimal("2.5")


def test_rebuild_window_reprices_old_day(builds: dict[str, Snapshot]) -> None:
    # 2,000,000 input tokens at $2.50 per million.
    assert builds["window"]["old"][0] == Decimal("5")
    assert builds["window"]["recent"][0] == Decimal("2.5")


def test_seed_change_reprices_whole_history(builds: dict[str, Snapshot]) -> None:
    changed = builds["seeds_changed"]

    # The contract rate of $2 per million applies from 2026-01-01, outside the look-back too.
    assert changed["old"][:2] == (Decimal("4"), True)
    assert changed["recent"][:2] == (Decimal("2"), True)
    assert changed["late"][:2] == (Decimal("10"), True)
    assert len({row[2] for row in changed.values()}) == 1
    assert changed["old"][2] != builds["window"]["old"][2]


def test_new_alias_prices_calls_loaded_before_it(builds: dict[str, Snapshot]) -> None:
    assert builds["seeds_changed"]["mystery"][:2] == (Decimal("2"), True)
