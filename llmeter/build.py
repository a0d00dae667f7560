"""The build step: `dbt build` in a child process.

dbt runs as a child process rather than through its in-process runner, because the runner keeps
its DuckDB connection open after it returns and the next step could not open the file. The child
gets the same environment, so plain `dbt build` from the project root gives the same result.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from llmeter.audit import SubjectResult
from llmeter.steps import RunContext, StepFailedError, StepResult

logger = logging.getLogger(__name__)


def dbt_command(context: RunContext, *arguments: str) -> list[str]:
    """The command line that runs dbt with the project's own folder as project and profiles dir."""
    root = str(context.settings.project_root)
    return [
        sys.executable,
        "-m",
        "dbt.cli.main",
        *arguments,
        "--project-dir",
        root,
        "--profiles-dir",
        root,
    ]


def dbt_environment(context: RunContext) -> dict[str, str]:
    """The environment of the dbt child process: the caller's, plus the resolved settings."""
    settings = context.settings
    environment = dict(os.environ)
    environment["LLMETER_WAREHOUSE"] = str(settings.warehouse_path)
    environment["LLMETER_MEMORY_LIMIT"] = settings.memory_limit
    environment["LLMETER_AS_OF"] = settings.as_of_date.isoformat()
    environment.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return environment


def run_dbt(context: RunContext, *arguments: str) -> int:
    """Run dbt with `arguments`, logging its output line by line, and return its exit code."""
    command = dbt_command(context, *arguments)
    logger.info("Running dbt %s", " ".join(arguments))
    with subprocess.Popen(
        command,
        cwd=context.settings.project_root,
        env=dbt_environment(context),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            logger.info("dbt: %s", line.rstrip())
        return process.wait()


def build_arguments(context: RunContext) -> list[str]:
    """The `dbt build` arguments for this run's options."""
    arguments = ["build"]
    if context.full_refresh:
        arguments.append("--full-refresh")
    build_vars: dict[str, str] = {}
    if context.since is not None:
        build_vars["rebuild_since_date"] = context.since.isoformat()
    if context.until is not None:
        build_vars["rebuild_until_date"] = context.until.isoformat()
    if build_vars:
        arguments += ["--vars", json.dumps(build_vars)]
    return arguments


def summarize_run_results(target_path: Path) -> list[SubjectResult]:
    """Count dbt's nodes by resource type and status from `target/run_results.json`."""
    results_file = target_path / "run_results.json"
    if not results_file.is_file():
        return []
    results = json.loads(results_file.read_text(encoding="utf-8"))["results"]

    counts: dict[str, dict[str, int]] = {}
    problems: dict[str, list[str]] = {}
    for result in results:
        resource_type = result["unique_id"].split(".")[0]
        status = str(result["status"])
        counts.setdefault(resource_type, {}).setdefault(status, 0)
        counts[resource_type][status] += 1
        if status in {"warn", "fail", "error"}:
            problems.setdefault(resource_type, []).append(
                f"{result['unique_id']}: {status} ({result.get('message') or ''})".strip()
            )

    subjects = []
    for resource_type, by_status in sorted(counts.items()):
        has_error = any(by_status.get(status) for status in ("error", "fail"))
        has_warning = bool(by_status.get("warn"))
        status = "failed" if has_error else "warned" if has_warning else "succeeded"
        subjects.append(
            SubjectResult(
                subject=f"dbt {resource_type}s",
                status=status,
                message=", ".join(f"{count} {name}" for name, count in sorted(by_status.items())),
                details={"problems": problems.get(resource_type, [])},
            )
        )
    return subjects


def run_build(context: RunContext) -> StepResult:
    """Run `dbt build` and fail the step when dbt fails."""
    exit_code = run_dbt(context, *build_arguments(context))
    subjects = summarize_run_results(context.settings.project_root / "target")
    if exit_code != 0:
        failed = [
            problem
            for subject in subjects
            for problem in subject.details.get("problems", [])
            if not problem.endswith("warn")
        ]
        raise StepFailedError(
            f"dbt build exited with {exit_code}"
            + (f": {'; '.join(failed[:5])}" if failed else "; see the dbt log above"),
            subjects,
        )
    warned = any(subject.status == "warned" for subject in subjects)
    return StepResult(status="warned" if warned else "succeeded", subjects=subjects)
