"""The llmeter command line: exit codes, the warehouse lock and run_audit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

HOLD_LOCK = """
import sys, time
from pathlib import Path
from llmeter.lock import warehouse_lock
with warehouse_lock(Path(sys.argv[1]), "test holder"):
    print("locked", flush=True)
    time.sleep(60)
"""

HOLD_FILE = """
import sys, time
import duckdb
connection = duckdb.connect(sys.argv[1])
print("opened", flush=True)
time.sleep(60)
"""


def _llmeter(
    arguments: list[str], warehouse: Path, cwd: Path = PROJECT_ROOT, **extra_environment: str
) -> subprocess.CompletedProcess[str]:
    environment = dict(
        os.environ,
        LLMETER_WAREHOUSE=str(warehouse),
        LLMETER_AS_OF="2026-11-01",
        **extra_environment,
    )
    return subprocess.run(
        [sys.executable, "-m", "llmeter.cli", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_since_after_until_is_usage_error(tmp_path: Path) -> None:
    result = _llmeter(
        ["run", "--since", "2026-10-05", "--until", "2026-10-01"], tmp_path / "w.duckdb"
    )
    assert result.returncode == 2
    assert "--since 2026-10-05 is after --until 2026-10-01" in result.stderr


def test_invalid_date_is_usage_error(tmp_path: Path) -> None:
    result = _llmeter(["run", "--since", "yesterday"], tmp_path / "w.duckdb")
    assert result.returncode == 2
    assert "expected a date like 2026-11-01, got 'yesterday'" in result.stderr


def test_outside_project_is_usage_error(tmp_path: Path) -> None:
    result = _llmeter(["build"], tmp_path / "w.duckdb", cwd=tmp_path)
    assert result.returncode == 2
    assert "No LLMeter project" in result.stderr


def test_unknown_source_is_usage_error(tmp_path: Path) -> None:
    result = _llmeter(["extract", "no_such_source"], tmp_path / "w.duckdb")
    assert result.returncode == 2
    assert "Unknown source no_such_source; the sources are openai, anthropic" in result.stderr


def test_invalid_memory_limit_is_usage_error(tmp_path: Path) -> None:
    result = _llmeter(["build"], tmp_path / "w.duckdb", LLMETER_MEMORY_LIMIT="lots")
    assert result.returncode == 2
    assert "LLMETER_MEMORY_LIMIT must be a size like 4GB or 512MiB, got 'lots'" in result.stderr


def test_failed_step_exits_one_and_is_audited(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    missing = tmp_path / "no_such_folder"
    result = _llmeter(
        ["extract", "customers"], warehouse, SOURCES__CUSTOMERS__BUCKET_URL=str(missing)
    )
    assert result.returncode == 1
    assert "failed at step extract" in result.stderr

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select step, subject, status, message from audit.run_audit "
            "where subject in ('', 'customers') order by step, subject"
        ).fetchall()
    assert rows[0][:3] == ("extract", "", "failed")
    assert rows[0][3].startswith("customers (")
    assert rows[1][:3] == ("extract", "customers", "failed")
    assert rows[2][:3] == ("run", "", "failed")
    assert rows[2][3].startswith("step extract failed: customers (")


def test_named_source_without_settings_fails(tmp_path: Path) -> None:
    result = _llmeter(
        ["extract", "openai"],
        tmp_path / "w.duckdb",
        SOURCES__OPENAI__ADMIN_KEY="",
        OPENAI_ADMIN_KEY="",
    )
    assert result.returncode == 1
    assert "openai is not configured" in result.stderr


def _call_log_line(event_id: str, output_tokens: int = 20) -> bytes:
    record = {
        "event_id": event_id,
        "occurred_at": "2026-10-01T12:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-2024-08-06",
        "customer_id": "acme",
        "input_uncached_tokens": 100,
        "output_tokens": output_tokens,
        "schema_version": 1,
    }
    return json.dumps(record).encode() + b"\n"


def _write_spool(folder: Path) -> None:
    """Write two closed spool files, the older first: 5 lines, 3 loaded, 1 duplicate, 1 invalid."""
    folder.mkdir()
    older = folder / "older.ndjson"
    older.write_bytes(_call_log_line("c-1") + _call_log_line("c-2") + b"{broken\n")
    os.utime(older, (1_790_000_000, 1_790_000_000))
    newer = folder / "newer.ndjson"
    newer.write_bytes(_call_log_line("c-2") + _call_log_line("c-3"))
    os.utime(newer, (1_790_000_060, 1_790_000_060))


def test_extract_audits_call_log_files(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    spool = tmp_path / "spool"
    _write_spool(spool)

    result = _llmeter(
        ["extract", "call_logs"], warehouse, SOURCES__CALL_LOGS__BUCKET_URL=str(spool)
    )

    assert result.returncode == 0, result.stderr[-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select step, subject, status, rows_read, rows_loaded, rows_duplicate, rows_rejected"
            " from audit.run_audit order by step, subject"
        ).fetchall()
        details = connection.execute(
            "select details from audit.run_audit where subject = 'call_logs'"
        ).fetchall()
    assert rows == [
        ("extract", "", "succeeded", None, None, None, None),
        ("extract", "call_logs", "succeeded", None, None, None, None),
        ("extract", "call_logs:newer.ndjson", "succeeded", 2, 1, 1, 0),
        ("extract", "call_logs:older.ndjson", "warned", 3, 2, 0, 1),
        ("run", "", "succeeded", None, None, None, None),
    ]
    assert json.loads(details[0][0]) == {
        "files_already_loaded": 0,
        "files_changed": 0,
        "files_listed": 2,
        "files_loaded": 2,
    }


def test_extract_logs_child_records(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    _write_spool(spool)

    result = _llmeter(
        ["extract", "call_logs"], tmp_path / "w.duckdb", SOURCES__CALL_LOGS__BUCKET_URL=str(spool)
    )

    assert result.returncode == 0, result.stderr[-4000:]
    # Logged by the loader in the child process, through the parent's handler and format.
    assert (
        " INFO pipelines.call_logs.loader: Call log file older.ndjson: 3 lines read, 2 loaded,"
        " 0 duplicate, 1 rejected, 0 with content fields dropped"
    ) in result.stderr
    # Logged by the parent from the subjects the child returned.
    assert "  call_logs:newer.ndjson: 2 read, 1 loaded, 1 duplicate, 0 rejected" in result.stderr
    assert "Step extract succeeded" in result.stderr


def test_extract_named_source_skipped_fails(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    missing = tmp_path / "no_spool"

    result = _llmeter(
        ["extract", "call_logs"], warehouse, SOURCES__CALL_LOGS__BUCKET_URL=str(missing)
    )

    assert result.returncode == 1
    expected = (
        f"call_logs is not configured: the spool folder {missing} does not exist; create it,"
        " or set SOURCES__CALL_LOGS__BUCKET_URL"
    )
    assert expected in result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select step, subject, status, message from audit.run_audit order by step, subject"
        ).fetchall()
    assert [row[:3] for row in rows] == [
        ("extract", "", "failed"),
        ("extract", "call_logs", "failed"),
        ("run", "", "failed"),
    ]
    assert rows[0][3].startswith(expected)
    assert rows[1][3].startswith(f"the spool folder {missing} does not exist")
    assert rows[2][3].startswith("step extract failed: " + expected)


def test_extract_runs_sources_in_child(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    _write_spool(spool)
    script = """
import datetime as dt, sys
from pathlib import Path
from llmeter.extract import run_extract
from llmeter.settings import Settings
from llmeter.steps import RunContext
root = Path(sys.argv[1])
settings = Settings(root, root / "w.duckdb", root / "p.duckdb", "1GB", dt.date(2026, 11, 1))
result = run_extract(RunContext(settings, "run-1", "extract", sources=["call_logs"]))
print(sorted(name for name in sys.modules if name.startswith(("pipelines", "dlt"))))
print([(subject.subject, subject.rows_loaded) for subject in result.subjects])
"""

    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, SOURCES__CALL_LOGS__BUCKET_URL=str(spool)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    modules, subjects = result.stdout.strip().splitlines()[-2:]
    # The loader and dlt were imported, and held their memory, only in the child process.
    assert modules == "[]"
    assert subjects == (
        "[('call_logs:older.ndjson', 2), ('call_logs:newer.ndjson', 1), ('call_logs', None)]"
    )


def test_killed_extract_process_fails_step(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    spool = tmp_path / "spool"
    _write_spool(spool)
    environment = dict(
        os.environ,
        LLMETER_WAREHOUSE=str(warehouse),
        LLMETER_AS_OF="2026-11-01",
        SOURCES__CALL_LOGS__BUCKET_URL=str(spool),
    )
    command = subprocess.Popen(
        [sys.executable, "-m", "llmeter.cli", "extract", "call_logs"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The child spends more than a second importing dlt, so it is found before it ends.
        deadline = time.monotonic() + 60
        child = None
        while child is None and time.monotonic() < deadline:
            for process in psutil.Process(command.pid).children():
                if "child_main" in " ".join(process.cmdline()):
                    child = process
            time.sleep(0.01)
        assert child is not None, "no extract child process started"
        child.kill()
        _, stderr = command.communicate(timeout=120)
    finally:
        command.kill()
        command.wait()

    assert command.returncode == 1
    expected = "the extract process ended by signal SIGKILL before it reported a result."
    assert expected in stderr
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select step, subject, status, message from audit.run_audit order by step, subject"
        ).fetchall()
    assert [row[:3] for row in rows] == [("extract", "", "failed"), ("run", "", "failed")]
    assert rows[0][3].startswith(expected)


def test_warehouse_held_by_another_process(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FILE, str(warehouse)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "opened"

        result = _llmeter(["build"], warehouse)
        assert result.returncode == 3
        assert "Another process holds the warehouse file open" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_second_run_is_locked_out(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    lock_path = tmp_path / "w.duckdb.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock_path)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"

        result = _llmeter(["build"], warehouse)
        assert result.returncode == 3
        assert f'"pid": {holder.pid}' in result.stderr
        assert '"command": "test holder"' in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_lock_released_when_holder_dies(tmp_path: Path) -> None:
    lock_path = tmp_path / "w.duckdb.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock_path)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()

    from llmeter.lock import warehouse_lock

    deadline = time.monotonic() + 5
    with warehouse_lock(lock_path, "after crash"):
        assert time.monotonic() < deadline
        assert '"command": "after crash"' in lock_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["run", "extract", "build", "publish", "check"])
def test_help_lists_command(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmeter.cli", command, "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert f"usage: llmeter {command}" in result.stdout
