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

import duckdb

from llmeter import warehouse
from llmeter.audit import SubjectResult
from llmeter.steps import RunContext, StepFailedError, StepResult

logger = logging.getLogger(__name__)


def dbt_command(context: RunContext, *arguments: str) -> list[str]:
    """Return the dbt command line, with the project folder as project and profiles dir."""
    root = str(context.settings.project_root)
    # `python -m dbt.cli.main` warns that the module is imported twice; calling the click
    # entry point that the `dbt` script calls does not.
    return [
        sys.executable,
        "-c",
        "from dbt.cli.main import cli; cli()",
        *arguments,
        "--project-dir",
        root,
        "--profiles-dir",
        root,
    ]


def dbt_environment(context: RunContext) -> dict[str, str]:
    """Return the environment of the dbt child process: the caller's, plus the resolved settings."""
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
    """Return the `dbt build` arguments for this run's options.

    The nightly build leaves out dbt's unit tests: they check the models' SQL against fixed
    rows, not the data, so they belong to development and CI (`dbt test --select
    test_type:unit`, which the project's test suite runs), as dbt's documentation advises.
    """
    arguments = ["build", "--exclude-resource-type", "unit_test"]
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


def target_path(context: RunContext) -> Path:
    """dbt's target folder: DBT_TARGET_PATH when set (relative to the project), else `target`."""
    configured = Path(os.environ.get("DBT_TARGET_PATH") or "target")
    return configured if configured.is_absolute() else context.settings.project_root / configured


def summarize_run_results(results_file: Path) -> list[SubjectResult]:
    """Count dbt's nodes by resource type and status from a `run_results.json`.

    Each subject's details list the nodes that warned (`warnings`) or failed (`failures`).
    """
    if not results_file.is_file():
        return []
    results = json.loads(results_file.read_text(encoding="utf-8"))["results"]

    counts: dict[str, dict[str, int]] = {}
    warnings: dict[str, list[str]] = {}
    failures: dict[str, list[str]] = {}
    for result in results:
        resource_type = result["unique_id"].split(".")[0]
        status = str(result["status"])
        counts.setdefault(resource_type, {}).setdefault(status, 0)
        counts[resource_type][status] += 1
        line = f"{result['unique_id']}: {status} ({result.get('message') or ''})"
        if status == "warn":
            warnings.setdefault(resource_type, []).append(line)
        elif status in {"fail", "error"}:
            failures.setdefault(resource_type, []).append(line)

    subjects = []
    for resource_type, by_status in sorted(counts.items()):
        status = (
            "failed"
            if resource_type in failures
            else "warned"
            if resource_type in warnings
            else "succeeded"
        )
        subjects.append(
            SubjectResult(
                subject=f"dbt {resource_type}s",
                status=status,
                message=", ".join(f"{count} {name}" for name, count in sorted(by_status.items())),
                details={
                    "warnings": warnings.get(resource_type, []),
                    "failures": failures.get(resource_type, []),
                },
            )
        )
    return subjects


UNPRICED_USAGE_SQL = """
select
    count(*) as models,
    coalesce(sum(calls), 0) as calls,
    coalesce(string_agg(provider || '/' || model, ', ' order by calls desc), '') as named
from marts.fct_unpriced_usage
"""

OVER_ATTRIBUTED_SQL = """
select count(*) as customer_days
from marts.fct_customer_daily_costs
where is_over_attributed
"""


def _relation_exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def summarize_cost_quality(context: RunContext) -> list[SubjectResult]:
    """Report unpriced usage and over-attributed customer-days from the freshly built marts.

    Both are warnings, not failures: an unpriced model has a null list cost and a list-estimate
    cost of null, and an over-attributed grain was capped at the provider's quantity.
    """
    settings = context.settings
    subjects: list[SubjectResult] = []
    with warehouse.connection(
        settings.warehouse_path, memory_limit=settings.memory_limit, read_only=True
    ) as connection:
        if _relation_exists(connection, "marts", "fct_unpriced_usage"):
            models, calls, named = connection.execute(UNPRICED_USAGE_SQL).fetchone() or (0, 0, "")
            message = (
                f"{calls} calls of {models} models have no price: {named}"
                if models
                else "every tagged call is priced"
            )
            if models:
                logger.warning("Unpriced usage: %s", message)
            subjects.append(
                SubjectResult(
                    subject="unpriced usage",
                    status="warned" if models else "succeeded",
                    message=message,
                    details={"models": models, "calls": calls},
                )
            )
        if _relation_exists(connection, "marts", "fct_customer_daily_costs"):
            (customer_days,) = connection.execute(OVER_ATTRIBUTED_SQL).fetchone() or (0,)
            message = (
                f"{customer_days} customer-days have more tagged usage than the provider "
                "reported and were capped at the provider's quantity"
                if customer_days
                else "no tagged usage exceeds the provider's"
            )
            if customer_days:
                logger.warning("Over-attributed usage: %s", message)
            subjects.append(
                SubjectResult(
                    subject="over-attributed usage",
                    status="warned" if customer_days else "succeeded",
                    message=message,
                    details={"customer_days": customer_days},
                )
            )
    return subjects


def run_build(context: RunContext) -> StepResult:
    """Run `dbt build` and fail the step when dbt fails."""
    results_file = target_path(context) / "run_results.json"
    # A failure before dbt writes its results must not be reported with the previous run's.
    results_file.unlink(missing_ok=True)
    exit_code = run_dbt(context, *build_arguments(context))
    subjects = summarize_run_results(results_file)
    if exit_code != 0:
        failed = [failure for subject in subjects for failure in subject.details["failures"]]
        raise StepFailedError(
            f"dbt build exited with {exit_code}"
            + (f": {'; '.join(failed[:5])}" if failed else "; see the dbt log above"),
            subjects,
        )
    subjects += summarize_cost_quality(context)
    warned = any(subject.status == "warned" for subject in subjects)
    return StepResult(status="warned" if warned else "succeeded", subjects=subjects)
