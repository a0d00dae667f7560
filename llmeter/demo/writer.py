"""Byte-stable writers for the demo files: UTF-8, `\\n` line ends, fixed key order, no clock."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from llmeter.demo.calls import Call, format_instant
from llmeter.demo.catalog import OPENAI
from llmeter.demo.company import ApiKey, Company

GENERATED_FOLDERS = ("call_logs", "customers", "invoices", "provider", "ground_truth")
MANIFEST = "manifest.json"
MARKER = ".llmeter-demo"
"""Empty file that marks a folder as written by the simulator, so a rerun may clear it."""


def prepare_output(output: Path) -> None:
    """Remove what an earlier generation wrote into `output`, and nothing else.

    Stale call log files from a longer period would otherwise be loaded with the new ones.

    Raises:
        ValueError: `output` has a folder of the demo layout but no marker of an earlier
            generation, so it may hold someone else's files.
    """
    if output.is_dir() and not (output / MARKER).is_file():
        existing = [name for name in GENERATED_FOLDERS if (output / name).exists()]
        if existing:
            raise ValueError(
                f"{output} contains {', '.join(existing)} but was not written by llmeter demo; "
                "choose an empty or new folder for --output"
            )
    output.mkdir(parents=True, exist_ok=True)
    (output / MARKER).write_bytes(b"")
    for name in GENERATED_FOLDERS:
        folder = output / name
        if folder.is_dir():
            shutil.rmtree(folder)
        folder.mkdir()
    (output / MANIFEST).unlink(missing_ok=True)


def call_record(call: Call) -> dict[str, Any]:
    """The call log record (schema version 1) of a tagged call."""
    key = call.api_key
    is_openai = call.spec.provider == OPENAI
    # The service tier as the provider's response reports it; OpenAI batch results say `default`.
    if is_openai:
        service_tier = "default"
    elif call.is_batch:
        service_tier = "batch"
    else:
        service_tier = "standard"
    return {
        "event_id": call.event_id,
        "occurred_at": format_instant(call.occurred_ms, call.offset_minutes),
        "provider": call.spec.provider,
        "model": call.spec.model,
        "customer_id": call.customer_id,
        "input_uncached_tokens": call.input_uncached,
        "cache_read_tokens": call.cache_read,
        "cache_write_5m_tokens": call.cache_write_5m,
        "cache_write_1h_tokens": call.cache_write_1h,
        "output_tokens": call.output,
        "reasoning_tokens": call.reasoning,
        "web_search_requests": call.web_searches,
        "request_id": call.request_id,
        "service_tier": service_tier,
        "is_batch": call.is_batch,
        "project_id": key.sub_account_id if is_openai else None,
        "workspace_id": None if is_openai else key.sub_account_id,
        "api_key_id": key.key_id,
        "tags": {"feature": call.feature, "environment": "production"},
        "latency_ms": call.latency_ms,
        "status": "ok",
        "schema_version": 1,
    }


def write_ndjson(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write one compact JSON object per line and return the number of lines."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as file:
        for row in rows:
            file.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            file.write("\n")
            count += 1
    return count


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a CSV file with a header row; None becomes an empty field."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
            count += 1
    return count


def unix_seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_lookups(folder: Path, company: Company, key_last_used_ms: dict[str, int]) -> None:
    """Write the projects, workspaces and API keys in the shapes of the providers' list APIs.

    `openai_api_keys.json` lists every project's keys; each object carries the extra field
    `project_id`, which the real API puts in the request path instead.
    """
    projects = []
    workspaces = []
    for account in company.sub_accounts:
        if account.sub_account_id is None:
            continue
        if account.provider == OPENAI:
            projects.append(
                {
                    "object": "organization.project",
                    "id": account.sub_account_id,
                    "name": account.name,
                    "created_at": unix_seconds(account.created_at),
                    "archived_at": None,
                    "status": "active",
                }
            )
        else:
            workspaces.append(
                {
                    "type": "workspace",
                    "id": account.sub_account_id,
                    "name": account.name,
                    "created_at": rfc3339(account.created_at),
                    "archived_at": None,
                    "display_color": account.display_color,
                }
            )

    keys = sorted(company.api_keys.values(), key=lambda key: (key.provider, key.key_id))
    openai_keys = [_openai_key(key, key_last_used_ms) for key in keys if key.provider == OPENAI]
    anthropic_keys = [_anthropic_key(key) for key in keys if key.provider != OPENAI]
    write_json(folder / "openai_projects.json", projects)
    write_json(folder / "openai_api_keys.json", openai_keys)
    write_json(folder / "anthropic_workspaces.json", workspaces)
    write_json(folder / "anthropic_api_keys.json", anthropic_keys)


def _openai_key(key: ApiKey, key_last_used_ms: dict[str, int]) -> dict[str, Any]:
    last_used_ms = key_last_used_ms.get(key.key_id)
    return {
        "object": "organization.project.api_key",
        "id": key.key_id,
        "name": key.name,
        "redacted_value": f"sk-proj-{key.hint[:3]}...{key.hint[3:]}",
        "created_at": unix_seconds(key.created_at),
        "last_used_at": None if last_used_ms is None else last_used_ms // 1000,
        "owner": {
            "type": "service_account",
            "service_account": {
                "object": "organization.project.service_account",
                "id": key.owner_id,
                "name": key.name,
                "role": "member",
                "created_at": unix_seconds(key.created_at),
            },
        },
        "project_id": key.sub_account_id,
    }


def _anthropic_key(key: ApiKey) -> dict[str, Any]:
    return {
        "type": "api_key",
        "id": key.key_id,
        "name": key.name,
        "workspace_id": key.sub_account_id,
        "status": "active",
        "created_at": rfc3339(key.created_at),
        "created_by": {"id": key.owner_id, "type": "user"},
        "expires_at": None,
        "partial_key_hint": f"sk-ant-api03-{key.hint[:3]}...{key.hint[3:]}",
    }
