"""Run dbt from tests in a child process, with a private target folder per test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_dbt(
    project_dir: Path,
    arguments: list[str],
    *,
    warehouse: Path,
    target_path: Path,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `dbt <arguments>` on `project_dir` against `warehouse` and return the finished process.

    The target and log folders live under `target_path`, so parallel test workers never share
    dbt's partial-parse state.
    """
    environment = dict(os.environ)
    environment.update(
        {
            "LLMETER_WAREHOUSE": str(warehouse),
            "DBT_TARGET_PATH": str(target_path),
            "DBT_LOG_PATH": str(target_path / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    environment.update(extra_env or {})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dbt.cli.main",
            *arguments,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
        ],
        cwd=project_dir,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
