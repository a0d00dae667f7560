"""The Anthropic Admin API source against the fake Anthropic API on 127.0.0.1, into DuckDB."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmeter.demo.fake_apis import FakeProviderServer, ProviderDataStore
from pipelines import anthropic
from pipelines.admin_api import AdminKeyRejectedError, MalformedPageError
from tests.provider_fixtures import (
    by_subject,
    configure_provider,
    query,
    requests_to,
    run_context,
    table_rows,
)

AS_OF = dt.date(2026, 3, 10)
SERVER_NOW = dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)


def usage(day: str, model: str, uncached: int, **fields: Any) -> dict[str, Any]:
    """Return a Messages usage record of the fake store."""
    return {
        "date": day,
        "model": model,
        "api_key_id": "apikey_01",
        "workspace_id": "wrkspc_01",
        "service_tier": "standard",
        "context_window": "0-200k",
        "uncached_input_tokens": uncached,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 10,
        "server_tool_use": {"web_search_requests": 0},
        **fields,
    }


def cost(day: str, description: str, amount_cents: str, **fields: Any) -> dict[str, Any]:
    """Return a cost report record of the fake store."""
    return {
        "date": day,
        "workspace_id": "wrkspc_01",
        "description": description,
        "cost_type": "tokens",
        "token_type": "uncached_input_tokens",
        "model": "claude-sonnet-4-5",
        "service_tier": "standard",
        "context_window": "0-200k",
        "amount_cents": amount_cents,
        **fields,
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    store = ProviderDataStore(
        anthropic_usage=[
            usage("2026-01-02", "claude-haiku-4-5", 50),
            usage("2026-03-07", "claude-sonnet-4-5", 1000),
            usage("2026-03-07", "claude-haiku-4-5", 2000),
            usage("2026-03-08", "claude-sonnet-4-5", 3000, api_key_id=None, workspace_id=None),
        ],
        anthropic_costs=[
            cost("2026-03-07", "Claude Sonnet 4.5 Usage - Input Tokens", "54.702000"),
        ],
        anthropic_api_keys=[
            {
                "id": "apikey_01",
                "type": "api_key",
                "name": "checkout",
                "workspace_id": "wrkspc_01",
                "status": "active",
                "created_at": "2025-06-01T12:00:00Z",
                "expires_at": None,
                "partial_key_hint": "sk-ant-api03-R2D...igAA",
                "created_by": {"id": "user_01", "type": "user"},
            }
        ],
        anthropic_workspaces=[
            {
                "id": "wrkspc_01",
                "type": "workspace",
                "name": "Checkout",
                "created_at": "2025-06-01T12:00:00Z",
                "archived_at": None,
                "display_color": "#6C5BB9",
            }
        ],
    )
    with FakeProviderServer(store, now=SERVER_NOW) as fake_server:
        yield fake_server


def usage_rows(warehouse: Path) -> list[tuple[Any, ...]]:
    return query(
        warehouse,
        "select cast(bucket_start_at as date), model, api_key_id, workspace_id, "
        "uncached_input_tokens from raw_anthropic.usage_messages order by all",
    )


def test_reports_paged_with_five_group_by(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=70)
    results = by_subject(anthropic.extract(run_context(warehouse, AS_OF)))

    usage_requests = requests_to(server, "/usage_report/messages")
    cost_requests = requests_to(server, "/cost_report")
    assert len(usage_requests) == 3
    assert len(cost_requests) == 3
    first = usage_requests[0].query
    assert first["group_by[]"] == [
        "model",
        "api_key_id",
        "workspace_id",
        "service_tier",
        "context_window",
    ]
    assert first["starting_at"] == ["2025-12-30T00:00:00Z"]
    assert first["ending_at"] == ["2026-03-10T00:00:00Z"]
    assert first["limit"] == ["31"]
    for request in usage_requests[1:]:
        assert {k: v for k, v in request.query.items() if k != "page"} == first
    assert cost_requests[0].query["group_by[]"] == ["workspace_id", "description"]
    assert {request.status for request in server.requests} == {200}

    assert results["anthropic.usage_messages"].rows_read == 4
    assert results["anthropic.usage_messages"].rows_loaded == 4
    assert results["anthropic.usage_messages"].details["pages"] == 3
    assert results["anthropic.cost_report"].rows_loaded == 1
    assert results["anthropic.api_keys"].rows_loaded == 1
    assert results["anthropic.workspaces"].rows_loaded == 1


def test_cost_amount_kept_as_cents_string(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=5)
    anthropic.extract(run_context(warehouse, AS_OF), tables=["cost_report"])

    assert query(
        warehouse, "select amount, currency, typeof(amount) from raw_anthropic.cost_report"
    ) == [("54.702000", "USD", "VARCHAR")]


def test_nulls_of_workbench_usage_kept_raw(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=5)
    anthropic.extract(run_context(warehouse, AS_OF), tables=["usage_messages"])

    assert usage_rows(warehouse) == [
        (dt.date(2026, 3, 7), "claude-haiku-4-5", "apikey_01", "wrkspc_01", 2000),
        (dt.date(2026, 3, 7), "claude-sonnet-4-5", "apikey_01", "wrkspc_01", 1000),
        (dt.date(2026, 3, 8), "claude-sonnet-4-5", None, None, 3000),
    ]


def test_restated_usage_bucket_loses_row(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=5)
    anthropic.extract(run_context(warehouse, AS_OF))

    server.restate(
        "anthropic", "usage", "2026-03-07", [usage("2026-03-07", "claude-sonnet-4-5", 1100)]
    )
    server.drop_cost_day("anthropic", "2026-03-07")
    results = by_subject(anthropic.extract(run_context(warehouse, AS_OF)))

    assert usage_rows(warehouse) == [
        (dt.date(2026, 3, 7), "claude-sonnet-4-5", "apikey_01", "wrkspc_01", 1100),
        (dt.date(2026, 3, 8), "claude-sonnet-4-5", None, None, 3000),
    ]
    assert query(warehouse, "select count(*) from raw_anthropic.cost_report") == [(0,)]
    assert results["anthropic.usage_messages"].rows_read == 2
    assert results["anthropic.usage_messages"].rows_loaded == 2


def test_two_identical_runs_same_tables(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=5)
    tables = [
        "raw_anthropic.usage_messages",
        "raw_anthropic.cost_report",
        "raw_anthropic.api_keys",
        "raw_anthropic.workspaces",
    ]
    anthropic.extract(run_context(warehouse, AS_OF))
    first = {table: table_rows(warehouse, table) for table in tables}
    anthropic.extract(run_context(warehouse, AS_OF))
    second = {table: table_rows(warehouse, table) for table in tables}

    assert second == first
    assert len(first["raw_anthropic.usage_messages"]) == 3


def test_second_run_starts_lookback_before_cursor(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=10, lookback_days=3)
    context = run_context(warehouse, AS_OF)
    anthropic.extract(context, tables=["usage_messages"])
    server.clear_requests()
    anthropic.extract(context, tables=["usage_messages"])

    (request,) = requests_to(server, "/usage_report/messages")
    assert request.query["starting_at"] == ["2026-03-07T00:00:00Z"]
    assert request.query["ending_at"] == ["2026-03-10T00:00:00Z"]


def test_rejected_key_names_admin_key(
    monkeypatch: pytest.MonkeyPatch,
    server: FakeProviderServer,
    warehouse: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=5)
    wrong_key = "sk-ant-api03-not-an-admin-key-77e1"
    monkeypatch.setenv("SOURCES__ANTHROPIC__ADMIN_KEY", wrong_key)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AdminKeyRejectedError) as raised:
        anthropic.extract(run_context(warehouse, AS_OF))

    message = str(raised.value)
    assert "HTTP 401, the key was rejected" in message
    assert "need an organization admin key (sk-ant-admin01-...)" in message
    assert wrong_key not in message
    assert wrong_key not in caplog.text


def test_malformed_page_loads_nothing(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=5)
    anthropic.extract(run_context(warehouse, AS_OF))
    before = usage_rows(warehouse)

    server.restate("anthropic", "usage", "2026-03-07", [usage("2026-03-07", "claude-opus-4-6", 7)])
    server.malform_next_page("anthropic", path_suffix="/cost_report")
    with pytest.raises(MalformedPageError) as raised:
        anthropic.extract(run_context(warehouse, AS_OF))

    assert "Anthropic /organizations/cost_report page 1: `data` is missing" in str(raised.value)
    assert usage_rows(warehouse) == before


def test_workspace_list_drops_key_hint(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "anthropic", backfill_days=5)
    anthropic.extract(run_context(warehouse, AS_OF), tables=["api_keys", "workspaces"])

    key_columns = [
        row[0]
        for row in query(
            warehouse,
            "select column_name from information_schema.columns "
            "where table_schema = 'raw_anthropic' and table_name = 'api_keys'",
        )
    ]
    assert "partial_key_hint" not in key_columns
    assert query(
        warehouse, "select id, workspace_id, epoch(created_at) from raw_anthropic.api_keys"
    ) == [("apikey_01", "wrkspc_01", 1_748_779_200)]
    assert query(warehouse, "select id, name from raw_anthropic.workspaces") == [
        ("wrkspc_01", "Checkout")
    ]
