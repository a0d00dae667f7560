"""Lint as a test, so that CI fails on a ruff, mypy or sqlfluff finding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PYTHON_PATHS = ["llmeter", "pipelines", "tests", "bench", "sdk/llmeter_sdk"]


def _run(arguments: list[str], **environment: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **environment},
    )


def test_ruff_check() -> None:
    result = _run(["ruff", "check", *PYTHON_PATHS])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run(["ruff", "format", "--check", *PYTHON_PATHS])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    result = _run(["mypy", "llmeter", "pipelines", "sdk/llmeter_sdk"])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sqlfluff(tmp_path: Path) -> None:
    result = _run(
        ["sqlfluff", "lint", "models", "--disable-progress-bar", "--nocolor"],
        LLMETER_WAREHOUSE=str(tmp_path / "lint.duckdb"),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
