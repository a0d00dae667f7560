"""The llmeter command line: exit codes, the warehouse lock and run_audit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
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
