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


def _llmeter(
    arguments: list[str], warehouse: Path, cwd: Path = PROJECT_ROOT
) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, LLMETER_WAREHOUSE=str(warehouse), LLMETER_AS_OF="2026-11-01")
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


def test_failed_step_exits_one_and_is_audited(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    result = _llmeter(["extract", "no_such_source"], warehouse)
    assert result.returncode == 1
    assert "failed at step extract" in result.stderr
    assert "Unknown source no_such_source" in result.stderr

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select step, subject, status, message from audit.run_audit order by step"
        ).fetchall()
    assert ("extract", "", "failed", rows[0][3]) == rows[0]
    assert "Unknown source no_such_source" in rows[0][3]
    assert rows[1][:3] == ("run", "", "failed")
    assert rows[1][3].startswith("step extract failed: Unknown source no_such_source")


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
