"""stg_call_logs__llm_calls built by real dbt on calls loaded by the call log loader."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.settings import Settings
from tests.dbt_helpers import run_dbt
from tests.test_call_logs_loader import (
    EARLY,
    call_record,
    line,
    run_extract,
    settings_for,
    write_spool_file,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# event_id: (record fields, expected provider_service_tier, service_tier, sub_account_id)
TIER_CASES: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "openai-default": (
        {"service_tier": "default", "project_id": "proj_1"},
        "default",
        "standard",
        "proj_1",
    ),
    "openai-auto": ({"service_tier": "auto"}, "auto", "standard", "(not grouped)"),
    "openai-none": ({}, "standard", "standard", "(not grouped)"),
    "openai-flex": ({"service_tier": "flex"}, "flex", "flex", "(not grouped)"),
    "openai-priority": ({"service_tier": "priority"}, "priority", "priority", "(not grouped)"),
    "openai-scale": ({"service_tier": "scale"}, "scale", "scale", "(not grouped)"),
    "openai-batch": (
        {"service_tier": "default", "is_batch": True},
        "default",
        "batch",
        "(not grouped)",
    ),
    "anthropic-standard": (
        {"provider": "anthropic", "service_tier": "standard", "workspace_id": "wrkspc_1"},
        "standard",
        "standard",
        "wrkspc_1",
    ),
    "anthropic-none": ({"provider": "anthropic"}, "standard", "standard", "(default)"),
    "anthropic-priority-on-demand": (
        {"provider": "anthropic", "service_tier": "priority_on_demand"},
        "priority_on_demand",
        "priority",
        "(default)",
    ),
    "anthropic-flex-discount": (
        {"provider": "anthropic", "service_tier": "flex_discount"},
        "flex_discount",
        "flex",
        "(default)",
    ),
    "anthropic-batch": (
        {"provider": "anthropic", "service_tier": "batch", "is_batch": True},
        "batch",
        "batch",
        "(default)",
    ),
    "google-none": (
        {"provider": "google", "model": "gemini-2.5-flash"},
        "standard",
        "standard",
        "(not grouped)",
    ),
}


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Calls loaded by the loader, then `dbt build --select stg_call_logs__llm_calls` in Tokyo."""
    root = tmp_path_factory.mktemp("staging")
    records = [call_record(event_id, **fields) for event_id, (fields, *_) in TIER_CASES.items()]
    # 23:30 UTC on 1 October is 08:30 on 2 October in Tokyo; both spellings are the same instant.
    records.append(call_record("late-utc", occurred_at="2026-10-01T23:30:00Z"))
    records.append(call_record("late-tokyo", occurred_at="2026-10-02T08:30:00+09:00"))
    records.append(
        call_record("early-utc", occurred_at="2026-10-02T00:30:00Z", tags={"env": "prod"})
    )
    write_spool_file(
        root / "data" / "call_logs" / "calls.ndjson", b"".join(line(r) for r in records), EARLY
    )
    settings = settings_for(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SOURCES__CALL_LOGS__BUCKET_URL", raising=False)
        run_extract(settings)

    result = run_dbt(
        PROJECT_ROOT,
        ["build", "--select", "stg_call_logs__llm_calls"],
        warehouse=settings.warehouse_path,
        target_path=root / "target",
        extra_env={"TZ": "Asia/Tokyo"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return settings


def staged_rows(settings: Settings, columns: str) -> dict[str, tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        rows = connection.execute(
            f"select event_id, {columns} from staging.stg_call_logs__llm_calls"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


@pytest.mark.slow
def test_staging_service_tiers(staged: Settings) -> None:
    rows = staged_rows(staged, "provider_service_tier, service_tier, sub_account_id")

    for event_id, (_, provider_tier, canonical_tier, sub_account) in TIER_CASES.items():
        assert rows[event_id] == (provider_tier, canonical_tier, sub_account), event_id


@pytest.mark.slow
def test_staging_usage_date_is_utc(staged: Settings) -> None:
    rows = staged_rows(staged, "occurred_at, usage_date")

    assert rows["late-utc"] == (dt.datetime(2026, 10, 1, 23, 30), dt.date(2026, 10, 1))
    assert rows["late-tokyo"] == (dt.datetime(2026, 10, 1, 23, 30), dt.date(2026, 10, 1))
    assert rows["early-utc"] == (dt.datetime(2026, 10, 2, 0, 30), dt.date(2026, 10, 2))


@pytest.mark.slow
def test_staging_counts_and_tags(staged: Settings) -> None:
    rows = staged_rows(staged, "requests, input_uncached_tokens, output_tokens, tags, source_line")

    assert rows["early-utc"][:3] == (1, 100, 20)
    assert json.loads(rows["early-utc"][3]) == {"env": "prod"}
    assert json.loads(rows["openai-none"][3]) == {}
    assert rows["early-utc"][4] == len(TIER_CASES) + 3
