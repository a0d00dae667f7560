"""The OpenAI Admin API source against the fake OpenAI API on 127.0.0.1, into a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from llmeter.demo.fake_apis import FakeProviderServer, ProviderDataStore
from llmeter.extract import SourceSkippedError, run_extract
from llmeter.steps import StepFailedError
from pipelines import openai
from pipelines.admin_api import (
    AdminApiError,
    AdminKeyRejectedError,
    ExtractReport,
    MalformedPageError,
)
from pipelines.common import make_pipeline
from tests.provider_fixtures import (
    by_subject,
    configure_provider,
    epoch,
    query,
    requests_to,
    run_context,
    table_rows,
)

AS_OF = dt.date(2026, 3, 10)
SERVER_NOW = dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)

USAGE_LIMIT = 31
COSTS_LIMIT = 180
LIST_LIMIT = 100


def completions(day: str, model: str, input_tokens: int, **fields: Any) -> dict[str, Any]:
    """Return a completions usage record of the fake store."""
    return {
        "date": day,
        "endpoint": "completions",
        "project_id": "proj_a",
        "api_key_id": "key_a",
        "model": model,
        "batch": False,
        "service_tier": "default",
        "input_tokens": input_tokens,
        "input_uncached_tokens": input_tokens,
        "output_tokens": 10,
        "num_model_requests": 1,
        **fields,
    }


def cost(day: str, line_item: str, amount_usd: str, **fields: Any) -> dict[str, Any]:
    """Return a cost record of the fake store."""
    return {
        "date": day,
        "line_item": line_item,
        "project_id": "proj_a",
        "api_key_id": "key_a",
        "amount_usd": amount_usd,
        **fields,
    }


PROJECTS = [
    {
        "id": "proj_a",
        "object": "organization.project",
        "name": "Checkout",
        "created_at": 1_735_689_600,
        "archived_at": None,
        "status": "active",
    }
]
API_KEYS = [
    {
        "id": "key_a",
        "object": "organization.project.api_key",
        "name": "checkout-prod",
        "redacted_value": "sk-proj-abc...xyz",
        "created_at": 1_735_689_600,
        "last_used_at": None,
        "project_id": "proj_a",
        "owner": {"type": "service_account", "service_account": {"id": "svc_1"}},
    }
]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@contextmanager
def serve(usage: list[dict[str, Any]], costs: list[dict[str, Any]]) -> Iterator[FakeProviderServer]:
    """Serve the given OpenAI usage and cost records, with one project and one API key."""
    store = ProviderDataStore(
        openai_usage=usage,
        openai_costs=costs,
        openai_projects=PROJECTS,
        openai_api_keys=API_KEYS,
    )
    with FakeProviderServer(store, now=SERVER_NOW) as server:
        yield server


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with serve(
        usage=[
            completions("2026-03-07", "gpt-4.1-mini", 1000),
            completions("2026-03-07", "gpt-4.1", 2000),
            completions("2026-03-08", "gpt-4.1-mini", 3000),
        ],
        costs=[
            cost("2026-03-07", "gpt-4.1-mini, input", "0.4"),
            cost("2026-03-07", "gpt-4.1, input", "4.0"),
            cost("2026-03-08", "gpt-4.1-mini, input", "1.2"),
        ],
    ) as fake_server:
        yield fake_server


def usage_rows(warehouse: Path) -> list[tuple[Any, ...]]:
    return query(
        warehouse,
        "select cast(bucket_start_at as date), model, input_tokens "
        "from raw_openai.usage_completions order by all",
    )


def test_pages_followed_with_same_parameters(
    monkeypatch: pytest.MonkeyPatch, warehouse: Path
) -> None:
    # 70 days of 1-day buckets: three usage pages of at most 31 buckets, one costs page.
    with serve(
        usage=[
            completions("2026-01-01", "gpt-4.1-mini", 100),
            completions("2026-02-05", "gpt-4.1-mini", 200),
            completions("2026-03-08", "gpt-4.1-mini", 300),
        ],
        costs=[cost("2026-01-01", "gpt-4.1-mini, input", "0.04")],
    ) as server:
        configure_provider(monkeypatch, server, "openai", backfill_days=70)
        results = by_subject(openai.extract(run_context(warehouse, AS_OF)))
        completions_requests = requests_to(server, "/usage/completions")
        costs_requests = requests_to(server, "/organization/costs")

    assert len(completions_requests) == 3
    assert "page" not in completions_requests[0].query
    assert completions_requests[1].query["page"] != completions_requests[2].query["page"]
    first_query = completions_requests[0].query
    for request in completions_requests[1:]:
        assert {k: v for k, v in request.query.items() if k != "page"} == first_query
    assert first_query["group_by"] == [
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "batch",
        "service_tier",
    ]
    assert first_query["start_time"] == [str(epoch(dt.date(2025, 12, 30)))]
    assert first_query["end_time"] == [str(epoch(AS_OF))]
    assert len(costs_requests) == 2  # costs and costs_by_api_key, one page each

    assert usage_rows(warehouse) == [
        (dt.date(2026, 1, 1), "gpt-4.1-mini", 100),
        (dt.date(2026, 2, 5), "gpt-4.1-mini", 200),
        (dt.date(2026, 3, 8), "gpt-4.1-mini", 300),
    ]
    completions_result = results["openai.usage_completions"]
    assert completions_result.rows_read == 3
    assert completions_result.rows_loaded == 3
    assert completions_result.details["pages"] == 3
    assert completions_result.details["buckets"] == 70
    assert completions_result.details["first_day"] == "2025-12-30"
    assert completions_result.details["last_day"] == "2026-03-09"


def test_limits_never_above_maximum(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=400)
    openai.extract(run_context(warehouse, AS_OF))

    for request in server.requests:
        if "/usage/" in request.path:
            maximum = USAGE_LIMIT
        elif request.path.endswith("/costs"):
            maximum = COSTS_LIMIT
        else:
            maximum = LIST_LIMIT
        assert int(request.query["limit"][0]) <= maximum, request
    assert [request for request in server.requests if request.status != 200] == []
    # 400 days need 13 usage pages of 31 and 3 costs pages of 180; costs by API key start on
    # 2025-12-06, 94 days, one page.
    assert len(requests_to(server, "/usage/embeddings")) == 13
    assert len(requests_to(server, "/organization/costs")) == 3 + 1


def test_costs_by_api_key_start_at_grouping_epoch(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=120)
    results = by_subject(openai.extract(run_context(warehouse, AS_OF)))

    costs_requests = requests_to(server, "/organization/costs")
    by_key = [r for r in costs_requests if "api_key_id" in r.query["group_by"]]
    plain = [r for r in costs_requests if "api_key_id" not in r.query["group_by"]]
    assert [r.query["start_time"] for r in by_key] == [["1764979200"]]
    assert [r.query["start_time"] for r in plain] == [[str(epoch(dt.date(2025, 11, 10)))]]
    assert results["openai.costs_by_api_key"].details["first_day"] == "2025-12-06"
    assert results["openai.costs_by_api_key"].rows_loaded == 3


def test_restated_bucket_replaced_whole(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    openai.extract(run_context(warehouse, AS_OF))
    assert usage_rows(warehouse) == [
        (dt.date(2026, 3, 7), "gpt-4.1", 2000),
        (dt.date(2026, 3, 7), "gpt-4.1-mini", 1000),
        (dt.date(2026, 3, 8), "gpt-4.1-mini", 3000),
    ]

    # March 7 loses gpt-4.1 and changes gpt-4.1-mini; March 8 becomes empty.
    server.restate(
        "openai",
        "usage",
        "2026-03-07",
        [completions("2026-03-07", "gpt-4.1-mini", 1500)],
        endpoint="completions",
    )
    server.restate("openai", "usage", "2026-03-08", [], endpoint="completions")
    server.restate("openai", "costs", "2026-03-08", [])
    results = by_subject(openai.extract(run_context(warehouse, AS_OF)))

    assert usage_rows(warehouse) == [(dt.date(2026, 3, 7), "gpt-4.1-mini", 1500)]
    assert query(
        warehouse,
        "select cast(bucket_start_at as date), line_item, amount__value "
        "from raw_openai.costs order by all",
    ) == [
        (dt.date(2026, 3, 7), "gpt-4.1, input", Decimal("4")),
        (dt.date(2026, 3, 7), "gpt-4.1-mini, input", Decimal("0.4")),
    ]
    assert results["openai.usage_completions"].rows_read == 1
    assert results["openai.usage_completions"].rows_loaded == 1
    assert results["openai.usage_completions"].rows_duplicate == 0


def test_two_identical_runs_same_tables(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    tables = [
        "raw_openai.usage_completions",
        "raw_openai.usage_embeddings",
        "raw_openai.costs",
        "raw_openai.costs_by_api_key",
        "raw_openai.projects",
        "raw_openai.api_keys",
    ]
    openai.extract(run_context(warehouse, AS_OF))
    first = {table: table_rows(warehouse, table) for table in tables}
    openai.extract(run_context(warehouse, AS_OF))
    second = {table: table_rows(warehouse, table) for table in tables}

    assert second == first
    assert len(first["raw_openai.usage_completions"]) == 3
    assert len(first["raw_openai.costs"]) == 3
    assert len(first["raw_openai.api_keys"]) == 1


def test_amounts_loaded_as_exact_decimals(monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> None:
    with serve(
        usage=[],
        costs=[
            cost("2026-03-07", "gpt-4.1, input", "34.7"),
            cost("2026-03-07", "web search tool calls", "0.000000000000000001"),
        ],
    ) as server:
        configure_provider(monkeypatch, server, "openai", backfill_days=5)
        openai.extract(run_context(warehouse, AS_OF), tables=["costs"])

    rows = query(
        warehouse,
        "select line_item, cast(amount__value as varchar), typeof(amount__value) "
        "from raw_openai.costs order by line_item",
    )
    assert rows == [
        ("gpt-4.1, input", "34.700000000000000000", "DECIMAL(38,18)"),
        ("web search tool calls", "0.000000000000000001", "DECIMAL(38,18)"),
    ]


def test_second_run_starts_lookback_before_cursor(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=10, lookback_days=3)
    openai.extract(run_context(warehouse, dt.date(2026, 3, 8)), tables=["usage_completions"])
    server.clear_requests()
    openai.extract(run_context(warehouse, AS_OF), tables=["usage_completions"])

    (request,) = requests_to(server, "/usage/completions")
    # The first run loaded up to 2026-03-08 00:00 UTC; 3 days of lookback before that.
    assert request.query["start_time"] == ["1772668800"]
    assert epoch(dt.date(2026, 3, 5)) == 1_772_668_800
    assert request.query["end_time"] == [str(epoch(AS_OF))]


def test_explicit_window_reads_since_until(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    openai.extract(run_context(warehouse, AS_OF), tables=["usage_completions"])
    server.restate("openai", "usage", "2026-03-08", [], endpoint="completions")
    server.clear_requests()

    context = run_context(warehouse, AS_OF, since=dt.date(2026, 2, 10), until=dt.date(2026, 3, 7))
    results = by_subject(openai.extract(context, tables=["usage_completions"]))

    (request,) = requests_to(server, "/usage/completions")
    assert request.query["start_time"] == [str(epoch(dt.date(2026, 2, 10)))]
    assert request.query["end_time"] == [str(epoch(dt.date(2026, 3, 8)))]
    assert results["openai.usage_completions"].details["last_day"] == "2026-03-07"
    # March 8 is outside the explicit window, so its old row stays.
    assert (dt.date(2026, 3, 8), "gpt-4.1-mini", 3000) in usage_rows(warehouse)

    # The explicit window ended before the cursor, which stays at the as-of date.
    server.clear_requests()
    openai.extract(run_context(warehouse, AS_OF), tables=["usage_completions"])
    (request,) = requests_to(server, "/usage/completions")
    assert request.query["start_time"] == [str(epoch(dt.date(2026, 3, 7)))]


def test_rate_limit_retried_after_retry_after(
    monkeypatch: pytest.MonkeyPatch,
    server: FakeProviderServer,
    warehouse: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    server.fail_next("openai", status=429, times=1, retry_after=2, path_suffix="/costs")
    caplog.set_level(logging.WARNING, logger="pipelines")

    started = time.monotonic()
    results = by_subject(openai.extract(run_context(warehouse, AS_OF), tables=["costs"]))
    elapsed = time.monotonic() - started

    statuses = [request.status for request in requests_to(server, "/organization/costs")]
    assert statuses == [429, 200]
    # Without Retry-After the first wait would be the 0.01 s backoff.
    assert elapsed >= 2
    assert "HTTP 429 with Retry-After 2 s; retry 1 of 5 in 2.0 s" in caplog.text
    assert results["openai.costs"].rows_loaded == 3


def test_server_errors_give_up_after_max_retries(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    monkeypatch.setenv("SOURCES__OPENAI__MAX_RETRIES", "2")
    server.fail_next("openai", status=503, times=5, retry_after=None, path_suffix="/costs")

    with pytest.raises(AdminApiError, match="HTTP 503; gave up after 3 attempts") as raised:
        openai.extract(run_context(warehouse, AS_OF), tables=["costs"])

    assert "OpenAI /organization/costs page 1" in str(raised.value)
    assert [r.status for r in requests_to(server, "/organization/costs")] == [503, 503, 503]


def test_rejected_key_names_admin_key_never_the_key(
    monkeypatch: pytest.MonkeyPatch,
    server: FakeProviderServer,
    warehouse: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    wrong_key = "sk-proj-not-an-admin-key-5f3a9c"
    monkeypatch.setenv("SOURCES__OPENAI__ADMIN_KEY", wrong_key)
    caplog.set_level(logging.DEBUG)
    context = run_context(warehouse, AS_OF)
    context.sources = ["openai"]

    with pytest.raises(StepFailedError) as raised:
        run_extract(context)

    message = str(raised.value)
    assert "HTTP 401, the key was rejected" in message
    assert "need an organization admin key (sk-admin-...)" in message
    assert "SOURCES__OPENAI__ADMIN_KEY or OPENAI_ADMIN_KEY" in message
    assert wrong_key not in message
    assert wrong_key not in caplog.text
    assert server.admin_keys["openai"] not in caplog.text
    assert {request.status for request in server.requests} == {401}


def test_rejected_key_raises_admin_key_error(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    monkeypatch.setenv("SOURCES__OPENAI__ADMIN_KEY", "sk-wrong")

    with pytest.raises(AdminKeyRejectedError, match="Nothing was loaded for OpenAI"):
        openai.extract(run_context(warehouse, AS_OF))


def test_malformed_page_keeps_cursor_and_rows(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5, lookback_days=3)
    openai.extract(run_context(warehouse, AS_OF))
    usage_before = usage_rows(warehouse)
    costs_before = table_rows(warehouse, "raw_openai.costs")

    server.restate(
        "openai",
        "usage",
        "2026-03-07",
        [completions("2026-03-07", "gpt-4.1-mini", 9999)],
        endpoint="completions",
    )
    server.malform_next_page("openai", path_suffix="/costs")
    later = AS_OF + dt.timedelta(days=4)
    server.now = SERVER_NOW + dt.timedelta(days=4)
    with pytest.raises(MalformedPageError) as raised:
        openai.extract(run_context(warehouse, later))

    assert "OpenAI /organization/costs page 1: `data` is missing or not a list" in str(raised.value)
    # Usage pages read before the bad page were not loaded either.
    assert usage_rows(warehouse) == usage_before
    assert table_rows(warehouse, "raw_openai.costs") == costs_before

    server.clear_requests()
    openai.extract(run_context(warehouse, later), tables=["usage_completions"])
    (request,) = requests_to(server, "/usage/completions")
    # The cursor is still at the first run's as-of date, 2026-03-10.
    assert request.query["start_time"] == [str(epoch(dt.date(2026, 3, 7)))]
    assert (dt.date(2026, 3, 7), "gpt-4.1-mini", 9999) in usage_rows(warehouse)


def test_truncated_page_fails_with_endpoint_and_page(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    server.truncate_next_page("openai", path_suffix="/usage/completions")

    with pytest.raises(MalformedPageError) as raised:
        openai.extract(run_context(warehouse, AS_OF))

    assert "OpenAI /organization/usage/completions page 1: the body is not valid JSON" in str(
        raised.value
    )
    assert query(
        warehouse,
        "select count(*) from information_schema.tables where table_schema = 'raw_openai'",
    ) == [(0,)]


def test_missing_key_skips_source(monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> None:
    monkeypatch.delenv("SOURCES__OPENAI__ADMIN_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)

    with pytest.raises(SourceSkippedError) as raised:
        openai.extract(run_context(warehouse, AS_OF))

    assert str(raised.value) == (
        "no OpenAI admin key; set SOURCES__OPENAI__ADMIN_KEY or OPENAI_ADMIN_KEY to load "
        "usage and costs"
    )


def test_plain_environment_key_accepted(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    monkeypatch.delenv("SOURCES__OPENAI__ADMIN_KEY")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", server.admin_keys["openai"])

    results = by_subject(openai.extract(run_context(warehouse, AS_OF), tables=["projects"]))

    assert results["openai.projects"].rows_loaded == 1


def test_lookup_tables_drop_redacted_key(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    openai.extract(run_context(warehouse, AS_OF), tables=["projects", "api_keys"])

    columns = [
        row[0]
        for row in query(
            warehouse,
            "select column_name from information_schema.columns "
            "where table_schema = 'raw_openai' and table_name = 'api_keys'",
        )
    ]
    assert "redacted_value" not in columns
    assert query(warehouse, "select id, project_id, owner__type from raw_openai.api_keys") == [
        ("key_a", "proj_a", "service_account")
    ]
    assert query(warehouse, "select id, epoch(created_at) from raw_openai.projects") == [
        ("proj_a", 1_735_689_600)
    ]


def test_cursor_restored_from_warehouse(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=10, lookback_days=3)
    openai.extract(run_context(warehouse, AS_OF), tables=["usage_completions"])
    # dlt's working folder next to the warehouse is lost; the state is stored in the warehouse.
    shutil.rmtree(warehouse.parent / ".dlt_pipelines")
    server.clear_requests()
    openai.extract(run_context(warehouse, AS_OF), tables=["usage_completions"])

    (request,) = requests_to(server, "/usage/completions")
    assert request.query["start_time"] == [str(epoch(dt.date(2026, 3, 7)))]


def test_amount_beyond_18_decimals_rounded_half_even(
    monkeypatch: pytest.MonkeyPatch, warehouse: Path
) -> None:
    # 0.000012345678901234|5678 dollars rounds to 18 decimal places as ...235.
    with serve(
        usage=[], costs=[cost("2026-03-07", "gpt-4.1, input", "0.0000123456789012345678")]
    ) as server:
        configure_provider(monkeypatch, server, "openai", backfill_days=5)
        openai.extract(run_context(warehouse, AS_OF), tables=["costs"])

    assert query(warehouse, "select cast(amount__value as varchar) from raw_openai.costs") == [
        ("0.000012345678901235",)
    ]


class _UsagePageHandler(BaseHTTPRequestHandler):
    """Serve one completions usage page with fields the source does not know.

    The first `slow_requests` requests wait `delay_seconds` before they answer.
    """

    slow_requests = 0
    delay_seconds = 0.0
    received = 0

    def do_GET(self) -> None:
        type(self).received += 1
        if type(self).received <= type(self).slow_requests:
            time.sleep(type(self).delay_seconds)
        bucket_start = epoch(dt.date(2026, 3, 9))
        body = {
            "object": "page",
            "data": [
                {
                    "object": "bucket",
                    "start_time": bucket_start,
                    "end_time": bucket_start + 86_400,
                    "results": [
                        {
                            "object": "organization.usage.completions.result",
                            "input_tokens": 70,
                            "output_tokens": 5,
                            "num_model_requests": 1,
                            "model": "gpt-4.1",
                            "input_video_tokens": 40,
                            "speed": {"tier": "fast"},
                        }
                    ],
                }
            ],
            "has_more": False,
            "next_page": None,
        }
        encoded = json.dumps(body).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and closed the connection

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def usage_page_server(slow_requests: int = 0, delay_seconds: float = 0.0) -> Iterator[str]:
    """Serve `_UsagePageHandler` on 127.0.0.1 and yield its OpenAI base URL."""
    handler = type(
        "UsagePageHandler",
        (_UsagePageHandler,),
        {"slow_requests": slow_requests, "delay_seconds": delay_seconds, "received": 0},
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_unknown_fields_kept_as_columns(monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> None:
    with usage_page_server() as base_url:
        monkeypatch.setenv("SOURCES__OPENAI__ADMIN_KEY", "sk-admin-test")
        monkeypatch.setenv("SOURCES__OPENAI__BASE_URL", base_url)
        monkeypatch.setenv("SOURCES__OPENAI__BACKFILL_DAYS", "1")
        openai.extract(run_context(warehouse, AS_OF), tables=["usage_completions"])

    rows = query(
        warehouse,
        "select model, input_tokens, input_video_tokens, speed__tier, input_cached_tokens "
        "from raw_openai.usage_completions",
    )
    # Fields the response lacks are null in raw; staging counts them as 0.
    assert rows == [("gpt-4.1", 70, 40, "fast", None)]


def test_timed_out_request_retried(
    monkeypatch: pytest.MonkeyPatch, warehouse: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pipelines")
    with usage_page_server(slow_requests=1, delay_seconds=2) as base_url:
        monkeypatch.setenv("SOURCES__OPENAI__ADMIN_KEY", "sk-admin-test")
        monkeypatch.setenv("SOURCES__OPENAI__BASE_URL", base_url)
        monkeypatch.setenv("SOURCES__OPENAI__BACKFILL_DAYS", "1")
        monkeypatch.setenv("SOURCES__OPENAI__REQUEST_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("SOURCES__OPENAI__RETRY_BACKOFF_SECONDS", "0.01")
        results = by_subject(
            openai.extract(run_context(warehouse, AS_OF), tables=["usage_completions"])
        )

    assert "no response within 0.5 s; retry 1 of 5" in caplog.text
    assert results["openai.usage_completions"].rows_loaded == 1


def test_pending_package_loaded_before_new_data(
    monkeypatch: pytest.MonkeyPatch, server: FakeProviderServer, warehouse: Path
) -> None:
    configure_provider(monkeypatch, server, "openai", backfill_days=5)
    context = run_context(warehouse, AS_OF)
    openai.extract(context, tables=["usage_completions"])
    # A later run extracted the projects but stopped before loading them.
    pipeline = make_pipeline(context.settings, "llmeter_openai", "raw_openai")
    source = openai.openai_source(context, ExtractReport(), admin_key=server.admin_keys["openai"])
    pipeline.extract(source.with_resources("projects"))
    pipeline.normalize()
    assert pipeline.has_pending_data

    results = by_subject(openai.extract(context, tables=["usage_completions"]))

    assert results["openai.usage_completions"].rows_read == 3
    assert results["openai.usage_completions"].rows_loaded == 3
    assert query(warehouse, "select id from raw_openai.projects") == [("proj_a",)]
