"""Fake OpenAI and Anthropic Admin APIs, exercised over real HTTP on 127.0.0.1.

The store below is small enough to check every served number by hand. The simulated now is
2026-08-10T12:00Z, so days up to 2026-08-09 are complete.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from llmeter.demo.fake_apis import FakeProviderServer, InvalidRecordError, ProviderDataStore

NOW = dt.datetime(2026, 8, 10, 12, 0, tzinfo=dt.UTC)


def epoch(day: str, hour: int = 0) -> int:
    """Return the Unix seconds of `day` (YYYY-MM-DD) at `hour` UTC."""
    return int(dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC).timestamp())


def completion(
    day: str, project: str, key: str, model: str, inputs: int, outputs: int, requests: int
) -> dict[str, Any]:
    return {
        "date": day,
        "endpoint": "completions",
        "project_id": project,
        "user_id": None,
        "api_key_id": key,
        "model": model,
        "batch": False,
        "service_tier": "default",
        "input_tokens": inputs,
        "input_uncached_tokens": inputs,
        "output_tokens": outputs,
        "num_model_requests": requests,
    }


def anthropic_usage(
    day: str,
    key: str | None,
    workspace: str | None,
    model: str,
    tier: str,
    uncached: int,
    cache_read: int,
    write_5m: int,
    write_1h: int,
    outputs: int,
    web_searches: int,
) -> dict[str, Any]:
    return {
        "date": day,
        "api_key_id": key,
        "workspace_id": workspace,
        "model": model,
        "service_tier": tier,
        "context_window": "0-200k",
        "inference_geo": "global",
        "uncached_input_tokens": uncached,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "output_tokens": outputs,
        "server_tool_use": {"web_search_requests": web_searches},
    }


def anthropic_cost(
    day: str,
    workspace: str | None,
    description: str,
    cost_type: str,
    token_type: str | None,
    cents: str,
) -> dict[str, Any]:
    is_tokens = cost_type == "tokens"
    return {
        "date": day,
        "workspace_id": workspace,
        "description": description,
        "cost_type": cost_type,
        "token_type": token_type,
        "model": "claude-a" if is_tokens else None,
        "service_tier": "standard" if is_tokens else None,
        "context_window": "0-200k" if is_tokens else None,
        "inference_geo": "global" if is_tokens else None,
        "amount_cents": cents,
    }


def make_store() -> ProviderDataStore:
    return ProviderDataStore(
        openai_usage=[
            completion("2026-08-03", "proj_a", "key_1", "gpt-a", 100, 10, 2),
            completion("2026-08-03", "proj_b", "key_2", "gpt-a", 200, 20, 3),
            completion("2026-08-03", "proj_a", "key_1", "gpt-b", 50, 5, 1),
            completion("2026-08-05", "proj_a", "key_1", "gpt-a", 1000, 100, 7),
            {
                "date": "2026-08-03",
                "endpoint": "web_search_calls",
                "project_id": "proj_a",
                "user_id": None,
                "api_key_id": "key_1",
                "model": "gpt-a",
                "context_level": "low",
                "num_model_requests": 4,
                "num_requests": 5,
            },
        ],
        openai_costs=[
            {
                "date": "2026-08-03",
                "project_id": "proj_a",
                "api_key_id": "key_1",
                "line_item": "gpt-a, input",
                "amount_usd": "0.0123456789",
                "quantity": 100,
                "quantity_unit": "tokens",
            },
            {
                "date": "2026-08-03",
                "project_id": "proj_b",
                "api_key_id": "key_2",
                "line_item": "gpt-a, input",
                "amount_usd": "0.02",
                "quantity": 200,
                "quantity_unit": "tokens",
            },
            {
                "date": "2026-08-03",
                "project_id": "proj_a",
                "api_key_id": "key_1",
                "line_item": "gpt-a, output",
                "amount_usd": "0.5",
                "quantity": 10,
                "quantity_unit": "tokens",
            },
        ],
        anthropic_usage=[
            anthropic_usage(
                "2026-08-03", "apikey_1", "wrkspc_1", "claude-a", "standard", 100, 40, 10, 0, 20, 1
            ),
            anthropic_usage(
                "2026-08-03", "apikey_2", None, "claude-a", "batch", 200, 0, 0, 5, 30, 0
            ),
            anthropic_usage("2026-08-03", None, None, "claude-b", "standard", 7, 0, 0, 0, 3, 0),
            anthropic_usage(
                "2026-08-05", "apikey_1", "wrkspc_1", "claude-a", "standard", 1000, 0, 0, 0, 100, 0
            ),
        ],
        anthropic_costs=[
            anthropic_cost(
                "2026-08-03",
                "wrkspc_1",
                "Claude A Usage - Input Tokens",
                "tokens",
                "uncached_input_tokens",
                "54.702",
            ),
            anthropic_cost(
                "2026-08-03",
                None,
                "Claude A Usage - Output Tokens",
                "tokens",
                "output_tokens",
                "27.45",
            ),
            anthropic_cost("2026-08-03", "wrkspc_1", "Web Search Usage", "web_search", None, "1"),
        ],
        openai_projects=[
            {"id": "proj_a", "object": "organization.project", "name": "A", "status": "active"},
            {"id": "proj_b", "object": "organization.project", "name": "B", "status": "active"},
            {"id": "proj_c", "object": "organization.project", "name": "C", "status": "active"},
        ],
        openai_api_keys=[
            {
                "id": "key_1",
                "object": "organization.project.api_key",
                "name": "k1",
                "project_id": "proj_a",
            },
            {
                "id": "key_2",
                "object": "organization.project.api_key",
                "name": "k2",
                "project_id": "proj_b",
            },
        ],
        anthropic_api_keys=[
            {
                "id": "apikey_1",
                "type": "api_key",
                "name": "one",
                "workspace_id": "wrkspc_1",
                "status": "active",
            },
            {
                "id": "apikey_2",
                "type": "api_key",
                "name": "two",
                "workspace_id": None,
                "status": "active",
            },
            {
                "id": "apikey_3",
                "type": "api_key",
                "name": "three",
                "workspace_id": None,
                "status": "archived",
            },
        ],
        anthropic_workspaces=[
            {"id": "wrkspc_1", "type": "workspace", "name": "Prod", "archived_at": None}
        ],
    )


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(make_store(), NOW) as running:
        yield running


class Response:
    """Status, headers and body text of one HTTP response."""

    def __init__(self, status: int, headers: dict[str, str], text: str) -> None:
        self.status = status
        self.headers = headers
        self.text = text

    def json(self) -> Any:
        return json.loads(self.text, parse_float=Decimal)


def fetch(url: str, headers: dict[str, str]) -> Response:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return Response(reply.status, dict(reply.headers), reply.read().decode())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read().decode())


def openai_get(
    server: FakeProviderServer, path: str, params: Any = (), key: str | None = "admin"
) -> Response:
    headers = {}
    if key is not None:
        headers["Authorization"] = "Bearer " + (
            server.admin_keys["openai"] if key == "admin" else key
        )
    return fetch(f"{server.openai_base_url}{path}?{urlencode(params)}", headers)


def anthropic_get(
    server: FakeProviderServer,
    path: str,
    params: Any = (),
    key: str | None = "admin",
    version: str | None = "2023-06-01",
) -> Response:
    headers = {}
    if key is not None:
        headers["x-api-key"] = server.admin_keys["anthropic"] if key == "admin" else key
    if version is not None:
        headers["anthropic-version"] = version
    return fetch(f"{server.anthropic_base_url}{path}?{urlencode(params)}", headers)


COMPLETIONS = "/organization/usage/completions"
COSTS = "/organization/costs"
MESSAGES = "/organizations/usage_report/messages"
COST_REPORT = "/organizations/cost_report"


def bucket_of(page: dict[str, Any], start_time: int) -> dict[str, Any]:
    matches = [bucket for bucket in page["data"] if bucket["start_time"] == start_time]
    assert len(matches) == 1, f"no single bucket starting at {start_time}"
    return matches[0]


# OpenAI usage


def test_openai_usage_pages_follow_next_page(server: FakeProviderServer) -> None:
    params = {"start_time": epoch("2026-08-01"), "end_time": epoch("2026-08-11"), "limit": 3}
    starts: list[int] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = openai_get(
            server, COMPLETIONS, {**params, **({"page": cursor} if cursor else {})}
        ).json()
        pages.append(page)
        starts += [bucket["start_time"] for bucket in page["data"]]
        cursor = page["next_page"]
        if not page["has_more"]:
            break

    # 2026-08-01 .. 2026-08-10: the bucket containing now (08-10) is the last one served.
    assert len(pages) == 4
    assert [len(page["data"]) for page in pages] == [3, 3, 3, 1]
    assert starts == [epoch("2026-08-01") + day * 86_400 for day in range(10)]
    assert pages[-1]["next_page"] is None
    assert all(page["object"] == "page" for page in pages)


def test_openai_usage_serves_empty_buckets(server: FakeProviderServer) -> None:
    page = openai_get(server, COMPLETIONS, {"start_time": epoch("2026-08-03"), "limit": 3}).json()

    empty = bucket_of(page, epoch("2026-08-04"))
    assert empty["results"] == []
    assert empty["object"] == "bucket"
    assert empty["end_time"] == epoch("2026-08-05")


def test_openai_usage_ungrouped_sums_one_result(server: FakeProviderServer) -> None:
    page = openai_get(server, COMPLETIONS, {"start_time": epoch("2026-08-03"), "limit": 1}).json()

    results = bucket_of(page, epoch("2026-08-03"))["results"]
    assert len(results) == 1
    result = results[0]
    # 100 + 200 + 50 input, 10 + 20 + 5 output, 2 + 3 + 1 requests.
    assert result["input_tokens"] == 350
    assert result["output_tokens"] == 35
    assert result["num_model_requests"] == 6
    assert result["input_cached_tokens"] == 0
    assert result["object"] == "organization.usage.completions.result"
    for dimension in ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier"):
        assert result[dimension] is None, dimension


def test_openai_usage_grouped_by_project(server: FakeProviderServer) -> None:
    params = [("start_time", epoch("2026-08-03")), ("limit", 1), ("group_by", "project_id")]
    page = openai_get(server, COMPLETIONS, params).json()

    results = {result["project_id"]: result for result in page["data"][0]["results"]}
    assert set(results) == {"proj_a", "proj_b"}
    assert results["proj_a"]["input_tokens"] == 150
    assert results["proj_a"]["num_model_requests"] == 3
    assert results["proj_b"]["input_tokens"] == 200
    assert results["proj_a"]["model"] is None
    assert results["proj_a"]["api_key_id"] is None


def test_openai_usage_group_by_bracket_syntax(server: FakeProviderServer) -> None:
    repeated = [
        ("start_time", epoch("2026-08-03")),
        ("limit", 1),
        ("group_by", "model"),
        ("group_by", "project_id"),
    ]
    bracket = [
        ("start_time", epoch("2026-08-03")),
        ("limit", 1),
        ("group_by[]", "model"),
        ("group_by[]", "project_id"),
    ]

    results = openai_get(server, COMPLETIONS, repeated).json()["data"][0]["results"]
    bracket_results = openai_get(server, COMPLETIONS, bracket).json()["data"][0]["results"]

    assert len(results) == 3
    assert bracket_results == results


def test_openai_usage_project_filter(server: FakeProviderServer) -> None:
    params = [("start_time", epoch("2026-08-03")), ("limit", 1), ("project_ids[]", "proj_b")]
    result = openai_get(server, COMPLETIONS, params).json()["data"][0]["results"][0]

    assert result["input_tokens"] == 200
    assert result["project_id"] is None


def test_openai_web_search_result_object(server: FakeProviderServer) -> None:
    params = [("start_time", epoch("2026-08-03")), ("limit", 1), ("group_by", "context_level")]
    result = openai_get(server, "/organization/usage/web_search_calls", params).json()["data"][0][
        "results"
    ][0]

    assert result["object"] == "organization.usage.web_searches.result"
    assert result["num_requests"] == 5
    assert result["num_model_requests"] == 4
    assert result["context_level"] == "low"
    assert result["project_id"] is None


def test_openai_partial_first_bucket(server: FakeProviderServer) -> None:
    start = epoch("2026-08-03", hour=6)
    page = openai_get(server, COMPLETIONS, {"start_time": start, "limit": 2}).json()

    first, second = page["data"]
    assert first["start_time"] == start
    assert first["end_time"] == epoch("2026-08-04")
    assert first["results"][0]["input_tokens"] == 350
    assert second["start_time"] == epoch("2026-08-04")


def test_openai_current_bucket_served_empty(server: FakeProviderServer) -> None:
    page = openai_get(
        server, COMPLETIONS, {"start_time": epoch("2026-08-09"), "end_time": epoch("2026-08-20")}
    ).json()

    # 08-09 is complete; 08-10 contains now (12:00) and is served without data; nothing later.
    assert [bucket["start_time"] for bucket in page["data"]] == [
        epoch("2026-08-09"),
        epoch("2026-08-10"),
    ]
    assert page["data"][-1]["results"] == []
    assert page["has_more"] is False


def test_openai_limit_over_max_rejected(server: FakeProviderServer) -> None:
    usage = openai_get(server, COMPLETIONS, {"start_time": epoch("2026-08-01"), "limit": 32})
    costs = openai_get(server, COSTS, {"start_time": epoch("2026-08-01"), "limit": 181})

    assert usage.status == 400
    assert usage.json()["error"]["message"] == (
        "Invalid limit provided: 32. Limit must be less than or equal to 31."
    )
    assert usage.json()["error"]["type"] == "invalid_request_error"
    assert costs.status == 400
    assert costs.json()["error"]["message"] == (
        "Invalid limit provided: 181. Limit must be less than or equal to 180."
    )


def test_openai_costs_limit_180_accepted(server: FakeProviderServer) -> None:
    response = openai_get(server, COSTS, {"start_time": epoch("2026-08-01"), "limit": 180})

    assert response.status == 200
    assert len(response.json()["data"]) == 10


def test_openai_invalid_group_by_rejected(server: FakeProviderServer) -> None:
    response = openai_get(
        server, COSTS, [("start_time", epoch("2026-08-01")), ("group_by", "model")]
    )

    assert response.status == 400
    assert "Invalid group_by value provided: model" in response.json()["error"]["message"]


def test_openai_unknown_parameter_rejected(server: FakeProviderServer) -> None:
    response = openai_get(server, COSTS, {"start_time": epoch("2026-08-01"), "project": "proj_a"})

    assert response.status == 400
    assert response.json()["error"]["param"] == "project"


def test_openai_missing_start_time_rejected(server: FakeProviderServer) -> None:
    response = openai_get(server, COMPLETIONS, {"limit": 3})

    assert response.status == 400
    assert response.json()["error"]["param"] == "start_time"


def test_openai_replayed_cursor_changed_params(server: FakeProviderServer) -> None:
    params = {"start_time": epoch("2026-08-01"), "limit": 2}
    cursor = openai_get(server, COMPLETIONS, params).json()["next_page"]

    same = openai_get(server, COMPLETIONS, {**params, "page": cursor})
    changed = openai_get(server, COMPLETIONS, {**params, "limit": 3, "page": cursor})

    assert same.status == 200
    assert changed.status == 400
    assert "different parameters" in changed.json()["error"]["message"]


# OpenAI costs


def test_openai_costs_amount_exact_number(server: FakeProviderServer) -> None:
    params = [
        ("start_time", epoch("2026-08-03")),
        ("limit", 1),
        ("group_by", "project_id"),
        ("group_by", "line_item"),
    ]
    response = openai_get(server, COSTS, params)

    assert '"value": 0.0123456789' in response.text
    results = response.json()["data"][0]["results"]
    by_key = {(result["project_id"], result["line_item"]): result for result in results}
    input_a = by_key["proj_a", "gpt-a, input"]
    assert input_a["amount"] == {"value": Decimal("0.0123456789"), "currency": "usd"}
    assert input_a["quantity"] == 100
    assert input_a["quantity_unit"] == "tokens"
    assert input_a["api_key_id"] is None
    assert input_a["object"] == "organization.costs.result"


def test_openai_costs_ungrouped_sum(server: FakeProviderServer) -> None:
    page = openai_get(server, COSTS, {"start_time": epoch("2026-08-03"), "limit": 1}).json()

    (result,) = page["data"][0]["results"]
    # 0.0123456789 + 0.02 + 0.5
    assert result["amount"]["value"] == Decimal("0.5323456789")
    assert result["line_item"] is None
    assert result["project_id"] is None
    assert result["quantity"] is None
    assert result["quantity_unit"] is None


def test_openai_costs_by_line_item_sums_quantity(server: FakeProviderServer) -> None:
    params = [("start_time", epoch("2026-08-03")), ("limit", 1), ("group_by", "line_item")]
    results = openai_get(server, COSTS, params).json()["data"][0]["results"]

    by_item = {result["line_item"]: result for result in results}
    assert by_item["gpt-a, input"]["amount"]["value"] == Decimal("0.0323456789")
    assert by_item["gpt-a, input"]["quantity"] == 300
    assert by_item["gpt-a, output"]["quantity"] == 10


def test_openai_costs_by_api_key_before_cutoff(server: FakeProviderServer) -> None:
    before = openai_get(
        server, COSTS, [("start_time", 1_764_979_200 - 86_400), ("group_by", "api_key_id")]
    )
    after = openai_get(
        server,
        COSTS,
        [("start_time", epoch("2026-08-03")), ("limit", 1), ("group_by", "api_key_id")],
    )

    assert before.status == 400
    assert "1764979200" in before.json()["error"]["message"]
    assert after.status == 200
    keys = {result["api_key_id"] for result in after.json()["data"][0]["results"]}
    assert keys == {"key_1", "key_2"}


def test_openai_costs_reject_hourly_buckets(server: FakeProviderServer) -> None:
    response = openai_get(server, COSTS, {"start_time": epoch("2026-08-03"), "bucket_width": "1h"})

    assert response.status == 400
    assert response.json()["error"]["param"] == "bucket_width"


# OpenAI lists


def test_openai_projects_list_paging(server: FakeProviderServer) -> None:
    first = openai_get(server, "/organization/projects", {"limit": 2}).json()
    second = openai_get(
        server, "/organization/projects", {"limit": 2, "after": first["last_id"]}
    ).json()

    assert [project["id"] for project in first["data"]] == ["proj_a", "proj_b"]
    assert first["has_more"] is True
    assert first["first_id"] == "proj_a"
    assert first["object"] == "list"
    assert [project["id"] for project in second["data"]] == ["proj_c"]
    assert second["has_more"] is False


def test_openai_project_api_keys(server: FakeProviderServer) -> None:
    page = openai_get(server, "/organization/projects/proj_a/api_keys").json()
    missing = openai_get(server, "/organization/projects/proj_x/api_keys")

    assert [key["id"] for key in page["data"]] == ["key_1"]
    assert "project_id" not in page["data"][0]
    assert missing.status == 404


# OpenAI auth


def test_openai_missing_key_rejected(server: FakeProviderServer) -> None:
    response = openai_get(server, COSTS, {"start_time": epoch("2026-08-03")}, key=None)

    assert response.status == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_openai_project_key_rejected(server: FakeProviderServer) -> None:
    response = openai_get(server, COSTS, {"start_time": epoch("2026-08-03")}, key="sk-proj-abc123")

    assert response.status == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "sk-proj-abc123" not in response.text


# Anthropic usage


def test_anthropic_usage_pages_follow_next_page(server: FakeProviderServer) -> None:
    params = {"starting_at": "2026-08-01T00:00:00Z", "limit": 3}
    pages = [anthropic_get(server, MESSAGES, params).json()]
    while pages[-1]["has_more"]:
        pages.append(
            anthropic_get(server, MESSAGES, {**params, "page": pages[-1]["next_page"]}).json()
        )

    # Complete days 2026-08-01 .. 2026-08-09, three per page.
    assert len(pages) == 3
    starts = [bucket["starting_at"] for page in pages for bucket in page["data"]]
    assert starts == [f"2026-08-0{day}T00:00:00Z" for day in range(1, 10)]
    assert pages[-1]["next_page"] is None
    assert "object" not in pages[0]


def test_anthropic_no_bucket_ends_after_now(server: FakeProviderServer) -> None:
    page = anthropic_get(
        server,
        MESSAGES,
        {"starting_at": "2026-08-08T00:00:00Z", "ending_at": "2026-08-12T00:00:00Z"},
    ).json()

    assert [bucket["starting_at"] for bucket in page["data"]] == [
        "2026-08-08T00:00:00Z",
        "2026-08-09T00:00:00Z",
    ]
    assert page["data"][-1]["ending_at"] == "2026-08-10T00:00:00Z"


def test_anthropic_partial_trailing_bucket_dropped(server: FakeProviderServer) -> None:
    page = anthropic_get(
        server,
        MESSAGES,
        {"starting_at": "2026-08-03T15:30:00Z", "ending_at": "2026-08-05T12:00:00Z"},
    ).json()

    # starting_at snaps to 08-03 midnight; the 08-05 bucket ends after ending_at.
    assert [bucket["starting_at"] for bucket in page["data"]] == [
        "2026-08-03T00:00:00Z",
        "2026-08-04T00:00:00Z",
    ]


def test_anthropic_usage_ungrouped_sums(server: FakeProviderServer) -> None:
    page = anthropic_get(
        server, MESSAGES, {"starting_at": "2026-08-03T00:00:00Z", "limit": 2}
    ).json()

    first, second = page["data"]
    (row,) = first["results"]
    # 100 + 200 + 7 uncached, 20 + 30 + 3 output, one 5m write of 10 and one 1h write of 5.
    assert row["uncached_input_tokens"] == 307
    assert row["cache_read_input_tokens"] == 40
    assert row["cache_creation"] == {
        "ephemeral_1h_input_tokens": 5,
        "ephemeral_5m_input_tokens": 10,
    }
    assert row["output_tokens"] == 53
    assert row["server_tool_use"] == {"web_search_requests": 1}
    for dimension in (
        "api_key_id",
        "workspace_id",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
    ):
        assert row[dimension] is None, dimension
    assert second["results"] == []


def test_anthropic_usage_grouped_nulls_mean_default(server: FakeProviderServer) -> None:
    params = [
        ("starting_at", "2026-08-03T00:00:00Z"),
        ("limit", 1),
        ("group_by[]", "api_key_id"),
        ("group_by[]", "workspace_id"),
    ]
    rows = anthropic_get(server, MESSAGES, params).json()["data"][0]["results"]

    by_key = {row["api_key_id"]: row for row in rows}
    assert set(by_key) == {"apikey_1", "apikey_2", None}
    assert by_key["apikey_2"]["workspace_id"] is None
    assert by_key[None]["uncached_input_tokens"] == 7
    assert by_key["apikey_1"]["workspace_id"] == "wrkspc_1"
    assert by_key["apikey_1"]["model"] is None


def test_anthropic_six_group_by_rejected(server: FakeProviderServer) -> None:
    dimensions = [
        "api_key_id",
        "workspace_id",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
    ]
    params = [
        ("starting_at", "2026-08-03T00:00:00Z"),
        *(("group_by[]", name) for name in dimensions),
    ]
    response = anthropic_get(server, MESSAGES, params)
    five = anthropic_get(server, MESSAGES, params[:-1])

    assert response.status == 400
    assert (
        response.json()["error"]["message"] == "Cannot specify more than 5 group_by[] dimensions."
    )
    assert response.json()["type"] == "error"
    assert five.status == 200


def test_anthropic_limit_over_max_rejected(server: FakeProviderServer) -> None:
    response = anthropic_get(server, MESSAGES, {"starting_at": "2026-08-01T00:00:00Z", "limit": 32})

    assert response.status == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "between 1 and 31" in response.json()["error"]["message"]


def test_anthropic_replayed_cursor_changed_params(server: FakeProviderServer) -> None:
    params = [("starting_at", "2026-08-01T00:00:00Z"), ("limit", 2)]
    cursor = anthropic_get(server, MESSAGES, params).json()["next_page"]

    changed = anthropic_get(server, MESSAGES, [*params, ("group_by[]", "model"), ("page", cursor)])

    assert changed.status == 400
    assert "different parameters" in changed.json()["error"]["message"]


# Anthropic costs


def test_anthropic_cost_amount_cents_string(server: FakeProviderServer) -> None:
    page = anthropic_get(
        server, COST_REPORT, {"starting_at": "2026-08-03T00:00:00Z", "limit": 1}
    ).json()

    (row,) = page["data"][0]["results"]
    # 54.702 + 27.45 + 1 cents.
    assert row["amount"] == "83.152000"
    assert row["currency"] == "USD"
    for field in (
        "description",
        "cost_type",
        "token_type",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
        "workspace_id",
    ):
        assert row[field] is None, field


def test_anthropic_cost_by_description_parses_fields(server: FakeProviderServer) -> None:
    params = [("starting_at", "2026-08-03T00:00:00Z"), ("limit", 1), ("group_by[]", "description")]
    rows = anthropic_get(server, COST_REPORT, params).json()["data"][0]["results"]

    by_description = {row["description"]: row for row in rows}
    tokens = by_description["Claude A Usage - Input Tokens"]
    assert tokens["amount"] == "54.702000"
    assert tokens["token_type"] == "uncached_input_tokens"
    assert tokens["model"] == "claude-a"
    assert tokens["workspace_id"] is None
    assert by_description["Web Search Usage"]["model"] is None


def test_anthropic_cost_rejects_api_key_grouping(server: FakeProviderServer) -> None:
    params = [("starting_at", "2026-08-03T00:00:00Z"), ("group_by[]", "api_key_id")]
    response = anthropic_get(server, COST_REPORT, params)

    assert response.status == 400


def test_anthropic_cost_window_without_complete_day(server: FakeProviderServer) -> None:
    response = anthropic_get(server, COST_REPORT, {"starting_at": "2026-08-10T00:00:00Z"})

    assert response.status == 400
    assert "No valid ending date" in response.json()["error"]["message"]


# Anthropic auth and lists


def test_anthropic_missing_key_rejected(server: FakeProviderServer) -> None:
    response = anthropic_get(server, MESSAGES, {"starting_at": "2026-08-03T00:00:00Z"}, key=None)

    assert response.status == 401
    assert response.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "x-api-key header is required"},
    }


def test_anthropic_non_admin_key_rejected(server: FakeProviderServer) -> None:
    response = anthropic_get(
        server, MESSAGES, {"starting_at": "2026-08-03T00:00:00Z"}, key="sk-ant-api03-abc"
    )

    assert response.status == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert "sk-ant-api03-abc" not in response.text


def test_anthropic_missing_version_rejected(server: FakeProviderServer) -> None:
    response = anthropic_get(
        server, MESSAGES, {"starting_at": "2026-08-03T00:00:00Z"}, version=None
    )

    assert response.status == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_anthropic_api_keys_paging(server: FakeProviderServer) -> None:
    first = anthropic_get(server, "/organizations/api_keys", {"limit": 2}).json()
    second = anthropic_get(
        server, "/organizations/api_keys", {"limit": 2, "after_id": first["last_id"]}
    ).json()
    before = anthropic_get(
        server, "/organizations/api_keys", {"limit": 1, "before_id": "apikey_3"}
    ).json()

    assert [key["id"] for key in first["data"]] == ["apikey_1", "apikey_2"]
    assert first["has_more"] is True
    assert [key["id"] for key in second["data"]] == ["apikey_3"]
    assert second["has_more"] is False
    assert [key["id"] for key in before["data"]] == ["apikey_2"]
    assert before["has_more"] is True


def test_anthropic_workspaces_list(server: FakeProviderServer) -> None:
    page = anthropic_get(server, "/organizations/workspaces").json()

    assert [workspace["id"] for workspace in page["data"]] == ["wrkspc_1"]
    assert page["first_id"] == "wrkspc_1"


# Fault switches


def test_fail_next_sends_retry_after(server: FakeProviderServer) -> None:
    server.fail_next("openai", status=429, times=1, retry_after=2)
    params = {"start_time": epoch("2026-08-03"), "limit": 1}

    limited = openai_get(server, COSTS, params)
    retried = openai_get(server, COSTS, params)

    assert limited.status == 429
    assert limited.headers["Retry-After"] == "2"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert retried.status == 200


def test_fail_next_anthropic_overloaded(server: FakeProviderServer) -> None:
    server.fail_next("anthropic", status=503, times=2, path_suffix="/cost_report")
    params = {"starting_at": "2026-08-03T00:00:00Z", "limit": 1}

    usage = anthropic_get(server, MESSAGES, params)
    statuses = [anthropic_get(server, COST_REPORT, params).status for _ in range(3)]

    assert usage.status == 200
    assert statuses == [503, 503, 200]


def test_restate_changes_next_pull(server: FakeProviderServer) -> None:
    params = {"starting_at": "2026-08-03T00:00:00Z", "limit": 3}
    before = anthropic_get(server, MESSAGES, params).json()

    server.restate(
        "anthropic",
        "usage",
        "2026-08-03",
        [
            anthropic_usage(
                "2026-08-03", "apikey_1", "wrkspc_1", "claude-a", "standard", 5, 0, 0, 0, 1, 0
            )
        ],
    )
    after = anthropic_get(server, MESSAGES, params).json()

    assert before["data"][0]["results"][0]["uncached_input_tokens"] == 307
    assert after["data"][0]["results"][0]["uncached_input_tokens"] == 5
    # 2026-08-05 was not restated.
    assert after["data"][2]["results"][0]["uncached_input_tokens"] == 1000


def test_restate_one_openai_endpoint(server: FakeProviderServer) -> None:
    server.restate("openai", "usage", "2026-08-03", [], endpoint="completions")
    params = {"start_time": epoch("2026-08-03"), "limit": 1}

    completions = openai_get(server, COMPLETIONS, params).json()
    web_searches = openai_get(server, "/organization/usage/web_search_calls", params).json()

    assert completions["data"][0]["results"] == []
    assert web_searches["data"][0]["results"][0]["num_requests"] == 5


def test_truncated_page_is_invalid_json(server: FakeProviderServer) -> None:
    server.truncate_next_page("openai")
    params = {"start_time": epoch("2026-08-03"), "limit": 1}

    truncated = openai_get(server, COSTS, params)
    following = openai_get(server, COSTS, params)

    assert truncated.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.text)
    assert following.json()["data"][0]["results"][0]["amount"]["value"] == Decimal("0.5323456789")


def test_malformed_page_lacks_data(server: FakeProviderServer) -> None:
    server.malform_next_page("anthropic", "/usage_report/messages")
    params = {"starting_at": "2026-08-03T00:00:00Z", "limit": 1}

    costs = anthropic_get(server, COST_REPORT, params).json()
    malformed = anthropic_get(server, MESSAGES, params).json()

    assert "data" in costs
    assert "data" not in malformed
    assert malformed["has_more"] is True


def test_scale_amounts_multiplies_costs(server: FakeProviderServer) -> None:
    server.scale_amounts("anthropic", 100)
    server.scale_amounts("openai", "0.5")

    anthropic = anthropic_get(
        server, COST_REPORT, {"starting_at": "2026-08-03T00:00:00Z", "limit": 1}
    ).json()
    openai = openai_get(server, COSTS, {"start_time": epoch("2026-08-03"), "limit": 1}).json()

    # 83.152 cents times 100, and $0.5323456789 times 0.5.
    assert anthropic["data"][0]["results"][0]["amount"] == "8315.200000"
    assert openai["data"][0]["results"][0]["amount"]["value"] == Decimal("0.26617283945")


def test_drop_cost_day_serves_empty_bucket(server: FakeProviderServer) -> None:
    server.drop_cost_day("openai", "2026-08-03")
    params = {"start_time": epoch("2026-08-03"), "limit": 1}

    costs = openai_get(server, COSTS, params).json()
    usage = openai_get(server, COMPLETIONS, params).json()

    assert costs["data"][0]["results"] == []
    assert len(usage["data"][0]["results"]) == 1


# Request log and loading


def test_request_log_has_no_keys(
    server: FakeProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmeter.demo.fake_apis")
    openai_get(server, COSTS, {"start_time": epoch("2026-08-03"), "limit": 1})
    anthropic_get(
        server, MESSAGES, {"starting_at": "2026-08-03T00:00:00Z"}, key="sk-ant-api03-secret"
    )

    first, second = server.requests
    assert first.path == "/openai/v1/organization/costs"
    assert first.query == {"start_time": [str(epoch("2026-08-03"))], "limit": ["1"]}
    assert first.status == 200
    assert second.provider == "anthropic"
    assert second.status == 401
    assert "/openai/v1/organization/costs" in caplog.text
    for key in (*server.admin_keys.values(), "sk-ant-api03-secret"):
        assert key not in caplog.text
        assert key not in repr(server.requests)


def test_store_from_folder(tmp_path: Path) -> None:
    provider = tmp_path / "provider"
    provider.mkdir()
    (provider / "openai_costs.ndjson").write_text(
        '{"date": "2026-08-03", "project_id": "proj_a", "api_key_id": null, "line_item": "x", '
        '"amount_usd": "0.10", "quantity": null, "quantity_unit": null}\n'
        "\n"
        '{"date": "2026-08-03", "project_id": "proj_a", "api_key_id": null, "line_item": "y", '
        '"amount_usd": "0.000000000000000001", "quantity": null, "quantity_unit": null}\n',
        encoding="utf-8",
    )
    (provider / "openai_projects.json").write_text(
        '[{"id": "proj_a", "name": "A"}]', encoding="utf-8"
    )

    with FakeProviderServer.from_demo_folder(tmp_path, NOW) as server:
        response = openai_get(server, COSTS, {"start_time": epoch("2026-08-03"), "limit": 1})
        projects = openai_get(server, "/organization/projects").json()

    assert '"value": 0.100000000000000001' in response.text
    assert [project["id"] for project in projects["data"]] == ["proj_a"]


def test_store_error_names_file_and_line(tmp_path: Path) -> None:
    provider = tmp_path / "provider"
    provider.mkdir()
    (provider / "anthropic_usage.ndjson").write_text(
        '{"date": "2026-08-03", "api_key_id": null, "workspace_id": null, "model": "m"}\n'
        '{"date": "2026-08-32", "api_key_id": null, "workspace_id": null, "model": "m"}\n',
        encoding="utf-8",
    )

    with pytest.raises(InvalidRecordError, match=r"anthropic_usage\.ndjson:2: date '2026-08-32'"):
        ProviderDataStore.from_folder(tmp_path)


def test_store_rejects_float_amount() -> None:
    record = {"date": "2026-08-03", "workspace_id": None, "amount_cents": 1.5}

    with pytest.raises(InvalidRecordError, match="not a float"):
        ProviderDataStore(anthropic_costs=[record])
