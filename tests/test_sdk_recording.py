"""llmeter_sdk.record and customer(): records, scopes, counters, spool files and their safety.

Every test writes to its own spool folder and reads back the files the SDK's writer thread
closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import llmeter_sdk
import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from llmeter.ingest.validation import check_record

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((PROJECT_ROOT / "schemas/call_log_record.v1.json").read_text())
SPOOL_NAME = re.compile(r"calls-\d{8}T\d{6}Z-(\d+)-[0-9a-f]{12}\.ndjson")

CHAT = ChatCompletion.model_validate(
    {
        "id": "chatcmpl-rec1",
        "object": "chat.completion",
        "created": 1793534400,
        "model": "gpt-5-mini-2025-08-07",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "A"}}
        ],
        "service_tier": "default",
        "usage": {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920},
            "completion_tokens_details": {"reasoning_tokens": 128},
        },
    }
)
CHAT_WITHOUT_USAGE = CHAT.model_copy(update={"usage": None})
ANTHROPIC = Message.model_validate(
    {
        "id": "msg_rec1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "B"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 248,
            "cache_creation_input_tokens": 1200,
            "cache_read_input_tokens": 18000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1200, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 503,
        },
    }
)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "spool"
    llmeter_sdk.configure(folder)
    yield folder
    llmeter_sdk.close()


def spooled_records(folder: Path) -> list[dict[str, Any]]:
    assert llmeter_sdk.flush()
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def counter_change(before: dict[str, int], name: str) -> int:
    return llmeter_sdk.stats()[name] - before[name]


def test_record_writes_canonical_record(spool: Path) -> None:
    llmeter_sdk.record(CHAT, customer_id="acme", tags={"feature": "search"}, latency_ms=812.6)

    [record] = spooled_records(spool)
    assert record["provider"] == "openai"
    assert record["model"] == "gpt-5-mini-2025-08-07"
    assert record["customer_id"] == "acme"
    assert record["input_uncached_tokens"] == 86
    assert record["cache_read_tokens"] == 1920
    assert record["output_tokens"] == 300
    assert record["reasoning_tokens"] == 128
    assert record["request_id"] == "chatcmpl-rec1"
    assert record["service_tier"] == "default"
    assert record["is_batch"] is False
    assert record["tags"] == {"feature": "search"}
    assert record["latency_ms"] == 813
    assert record["schema_version"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["occurred_at"])
    assert re.fullmatch(r"[0-9a-f-]{36}", record["event_id"])


def test_anthropic_record_counts(spool: Path) -> None:
    llmeter_sdk.record(ANTHROPIC, customer_id="acme")

    [record] = spooled_records(spool)
    assert record["input_uncached_tokens"] == 248
    assert record["cache_write_5m_tokens"] == 1200
    assert record["cache_read_tokens"] == 18000
    assert record["output_tokens"] == 503


def test_records_pass_ingest_rules_and_schema(spool: Path) -> None:
    llmeter_sdk.record(CHAT, customer_id="acme", status="ok", project_id="proj_1")
    llmeter_sdk.record(ANTHROPIC, customer_id="Ünïcode customer 顧客", is_batch=True)

    records = spooled_records(spool)
    assert len(records) == 2
    for record in records:
        assert check_record(record).reason is None
        jsonschema.Draft202012Validator(SCHEMA).validate(record)


def test_event_ids_are_unique(spool: Path) -> None:
    for _ in range(50):
        llmeter_sdk.record(CHAT, customer_id="acme")

    records = spooled_records(spool)
    assert len({record["event_id"] for record in records}) == 50


def test_customer_scope_and_tags(spool: Path) -> None:
    with llmeter_sdk.customer("outer", environment="prod", feature="chat"):
        llmeter_sdk.record(CHAT)
        with llmeter_sdk.customer("inner", feature="search"):
            llmeter_sdk.record(CHAT)
        llmeter_sdk.record(CHAT, customer_id="explicit", tags={"feature": "export"})

    records = spooled_records(spool)
    assert [record["customer_id"] for record in records] == ["outer", "inner", "explicit"]
    assert records[0]["tags"] == {"environment": "prod", "feature": "chat"}
    assert records[1]["tags"] == {"environment": "prod", "feature": "search"}
    assert records[2]["tags"] == {"environment": "prod", "feature": "export"}


def test_customer_decorator_sync_and_async(spool: Path) -> None:
    @llmeter_sdk.customer("sync-customer", feature="report")
    def handle_sync() -> None:
        llmeter_sdk.record(CHAT)

    @llmeter_sdk.customer("async-customer")
    async def handle_async() -> str:
        await asyncio.sleep(0)
        llmeter_sdk.record(CHAT)
        return "done"

    handle_sync()
    result = asyncio.run(handle_async())
    llmeter_sdk.record(CHAT, customer_id="after")

    records = spooled_records(spool)
    assert result == "done"
    assert [record["customer_id"] for record in records] == [
        "sync-customer",
        "async-customer",
        "after",
    ]
    assert records[0]["tags"] == {"feature": "report"}
    assert records[2]["tags"] == {}


def test_scopes_are_per_thread(spool: Path) -> None:
    both_inside = threading.Barrier(2)

    def worker(customer_id: str) -> None:
        with llmeter_sdk.customer(customer_id):
            both_inside.wait(timeout=5)
            for _ in range(20):
                llmeter_sdk.record(CHAT)
            both_inside.wait(timeout=5)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("thread-a", "thread-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = spooled_records(spool)
    customers = [record["customer_id"] for record in records]
    assert customers.count("thread-a") == 20
    assert customers.count("thread-b") == 20


def test_scopes_are_per_asyncio_task(spool: Path) -> None:
    async def handle(customer_id: str) -> None:
        with llmeter_sdk.customer(customer_id):
            for _ in range(5):
                await asyncio.sleep(0)
                llmeter_sdk.record(CHAT)

    async def main() -> None:
        await asyncio.gather(handle("task-a"), handle("task-b"))

    asyncio.run(main())

    customers = [record["customer_id"] for record in spooled_records(spool)]
    assert customers.count("task-a") == 5
    assert customers.count("task-b") == 5


def test_missing_customer_is_counted(spool: Path) -> None:
    before = llmeter_sdk.stats()

    llmeter_sdk.record(CHAT)

    assert spooled_records(spool) == []
    assert counter_change(before, "missing_customer") == 1


@pytest.mark.parametrize(
    ("customer_id", "tags"),
    [
        ("(unattributed)", None),
        ("(none)", None),
        ("", None),
        ("x" * 257, None),
        ("acme", {"feature": 3}),
    ],
)
def test_invalid_attribution_is_counted(
    spool: Path, customer_id: str, tags: dict[str, Any] | None
) -> None:
    before = llmeter_sdk.stats()

    llmeter_sdk.record(CHAT, customer_id=customer_id, tags=tags)

    assert spooled_records(spool) == []
    assert counter_change(before, "invalid") == 1


def test_longest_customer_id_is_accepted(spool: Path) -> None:
    llmeter_sdk.record(CHAT, customer_id="x" * 256)

    [record] = spooled_records(spool)
    assert len(record["customer_id"]) == 256


def test_content_and_unknown_fields_are_dropped(spool: Path) -> None:
    before = llmeter_sdk.stats()

    llmeter_sdk.record(
        CHAT,
        customer_id="acme",
        prompt="SECRET PROMPT TEXT",
        messages=[{"role": "user", "content": "SECRET MESSAGE"}],
        user_query="SECRET QUERY",
        status="ok",
    )

    [record] = spooled_records(spool)
    spool_text = "".join(path.read_text() for path in spool.glob("*.ndjson"))
    assert "SECRET" not in spool_text
    assert "prompt" not in record
    assert "messages" not in record
    assert "user_query" not in record
    assert record["status"] == "ok"
    assert counter_change(before, "fields_dropped") == 3


def test_missing_usage_is_logged_once(spool: Path, caplog: pytest.LogCaptureFixture) -> None:
    before = llmeter_sdk.stats()
    llmeter_sdk.close()
    llmeter_sdk.configure(spool)

    with caplog.at_level(logging.WARNING, logger="llmeter_sdk"):
        llmeter_sdk.record(CHAT_WITHOUT_USAGE, customer_id="acme")
        llmeter_sdk.record(CHAT_WITHOUT_USAGE, customer_id="acme")

    assert spooled_records(spool) == []
    assert counter_change(before, "missing_usage") == 2
    missing_usage_logs = [r for r in caplog.records if "without usage" in r.getMessage()]
    assert len(missing_usage_logs) <= 1


@pytest.mark.parametrize(
    "response", [None, object(), "not json", b"\xff", {"usage": {"odd": 1}}, 3.5]
)
def test_record_never_raises(spool: Path, response: object) -> None:
    before = llmeter_sdk.stats()

    llmeter_sdk.record(response, customer_id="acme")

    assert counter_change(before, "recorded") == 0
    assert counter_change(before, "invalid") == 1
    assert counter_change(before, "failed") == 0


def test_unwritable_spool_counts_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    llmeter_sdk.configure(blocker / "spool")
    before = llmeter_sdk.stats()

    llmeter_sdk.record(CHAT, customer_id="acme")
    flushed = llmeter_sdk.flush()
    llmeter_sdk.close()

    assert flushed is True
    assert counter_change(before, "recorded") == 1
    assert counter_change(before, "failed") == 1
    assert counter_change(before, "written") == 0


def test_full_queue_drops_and_counts(tmp_path: Path) -> None:
    llmeter_sdk.configure(tmp_path / "spool", max_queue_size=10)
    before = llmeter_sdk.stats()
    switch_interval = sys.getswitchinterval()
    # A long switch interval keeps the writer thread from running while the loop holds the GIL,
    # so the 10-record queue overflows.
    sys.setswitchinterval(5.0)
    try:
        for _ in range(500):
            llmeter_sdk.record(CHAT, customer_id="acme")
    finally:
        sys.setswitchinterval(switch_interval)
    llmeter_sdk.flush()
    llmeter_sdk.close()

    recorded = counter_change(before, "recorded")
    dropped = counter_change(before, "dropped")
    assert dropped > 0
    assert recorded + dropped == 500
    assert counter_change(before, "written") == recorded


def test_spool_file_names(spool: Path) -> None:
    llmeter_sdk.record(CHAT, customer_id="acme")
    llmeter_sdk.flush()

    names = [path.name for path in spool.iterdir()]
    assert len(names) == 1
    match = SPOOL_NAME.fullmatch(names[0])
    assert match is not None
    assert int(match.group(1)) == os.getpid()


def test_size_rotation(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    llmeter_sdk.configure(folder, max_file_bytes=2000)

    for _ in range(40):
        llmeter_sdk.record(CHAT, customer_id="acme")
    records = spooled_records(folder)
    llmeter_sdk.close()

    files = list(folder.glob("*.ndjson"))
    # Each record is about 430 bytes, so a file closes after its fifth record.
    assert len(records) == 40
    assert len(files) == 8
    assert list(folder.glob("*.tmp")) == []


def test_age_rotation_without_flush(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    llmeter_sdk.configure(folder, max_file_age_seconds=0.2)

    llmeter_sdk.record(CHAT, customer_id="acme")
    deadline = time.monotonic() + 5
    while not list(folder.glob("*.ndjson")) and time.monotonic() < deadline:
        time.sleep(0.05)
    closed = list(folder.glob("*.ndjson"))
    llmeter_sdk.close()

    assert len(closed) == 1
    assert len(closed[0].read_text().splitlines()) == 1


def test_reader_never_sees_partial_file(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    llmeter_sdk.configure(folder, max_file_bytes=4000)
    stop = threading.Event()
    problems: list[str] = []
    files_checked: set[str] = set()

    def poll() -> None:
        while not stop.is_set():
            for path in folder.glob("*.ndjson"):
                data = path.read_bytes()
                if not data.endswith(b"\n"):
                    problems.append(f"{path.name} does not end with a newline")
                for line in data.splitlines():
                    if len(json.loads(line)) != 17:
                        problems.append(f"{path.name} has an incomplete record")
                files_checked.add(path.name)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for _ in range(2000):
            llmeter_sdk.record(CHAT, customer_id="acme", tags={"feature": "x"})
        assert llmeter_sdk.flush()
    finally:
        stop.set()
        reader.join()
    records = spooled_records(folder)
    llmeter_sdk.close()

    assert problems == []
    assert len(files_checked) > 10
    assert len({record["event_id"] for record in records}) == 2000


def test_record_takes_microseconds(spool: Path) -> None:
    started = time.perf_counter()
    for _ in range(1000):
        llmeter_sdk.record(CHAT, customer_id="acme")
    per_record = (time.perf_counter() - started) / 1000

    # Measured at 40 to 80 microseconds per call on a 2-core machine, writer thread included.
    # The bound leaves room for a loaded CI machine.
    assert per_record < 0.0005


def run_python(code: str, spool_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "LLMETER_SPOOL_DIR": str(spool_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_interpreter_exit_closes_file(tmp_path: Path) -> None:
    code = (
        "import llmeter_sdk\n"
        "llmeter_sdk.record({'usageMetadata': {'promptTokenCount': 5, 'candidatesTokenCount': 2},"
        " 'modelVersion': 'gemini-2.5-flash'}, customer_id='exit-customer')\n"
    )

    result = run_python(code, tmp_path / "spool")

    files = list((tmp_path / "spool").glob("*.ndjson"))
    assert result.returncode == 0, result.stderr
    assert len(files) == 1
    assert json.loads(files[0].read_text())["customer_id"] == "exit-customer"
    assert list((tmp_path / "spool").glob("*.tmp")) == []


def test_imports_only_standard_library(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import llmeter_sdk\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )

    result = run_python(code, tmp_path)

    loaded = json.loads(result.stdout)
    top_level = {name.split(".")[0] for name in loaded}
    third_party = top_level - set(sys.stdlib_module_names) - {"llmeter_sdk"}
    assert result.returncode == 0, result.stderr
    assert "llmeter_sdk" in top_level
    assert third_party == set()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_writes_its_own_file(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    code = (
        "import os, llmeter_sdk\n"
        "chat = {'object': 'chat.completion', 'model': 'gpt-5-mini', 'id': 'c1',"
        " 'usage': {'prompt_tokens': 10, 'completion_tokens': 2}}\n"
        "llmeter_sdk.record(chat, customer_id='parent-before-fork')\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    llmeter_sdk.record(chat, customer_id='child')\n"
        "    llmeter_sdk.flush()\n"
        "    os._exit(0 if llmeter_sdk.stats()['written'] == 1 else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "llmeter_sdk.record(chat, customer_id='parent-after-fork')\n"
        "llmeter_sdk.flush()\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n"
    )

    result = run_python(code, folder)

    by_pid: dict[str, list[str]] = {}
    for path in folder.glob("*.ndjson"):
        match = SPOOL_NAME.fullmatch(path.name)
        assert match is not None
        for line in path.read_text().splitlines():
            by_pid.setdefault(match.group(1), []).append(json.loads(line)["customer_id"])
    assert result.returncode == 0, result.stderr
    assert len(by_pid) == 2
    customers = [customer for names in by_pid.values() for customer in names]
    assert sorted(customers) == [
        "child",
        "parent-after-fork",
        "parent-before-fork",
    ]
