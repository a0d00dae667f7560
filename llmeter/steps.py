"""The nightly job as a registry of steps, and the code that runs them.

`llmeter run` runs every registered step in order; `llmeter extract`, `build`, `publish` and
`check` run one. A step is a function that takes a `RunContext` and returns a `StepResult`; it
raises `StepFailedError` (or any exception) to fail the run. Steps are named by import path so
that importing the CLI does not import dlt, dbt and Great Expectations.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from llmeter import audit
from llmeter.audit import SubjectResult
from llmeter.lock import warehouse_lock
from llmeter.settings import Settings

logger = logging.getLogger(__name__)


class StepFailedError(RuntimeError):
    """Raised by a step whose work failed; the message names what failed and what to do next.

    `subjects` carries the per-source or per-check rows gathered before the failure, so that
    `run_audit` records them too.
    """

    def __init__(self, message: str, subjects: Sequence[SubjectResult] = ()) -> None:
        super().__init__(message)
        self.subjects = list(subjects)


@dataclass
class RunContext:
    """Context that every step of one run receives."""

    settings: Settings
    run_id: str
    command: str
    since: dt.date | None = None
    until: dt.date | None = None
    full_refresh: bool = False
    sources: Sequence[str] = ()


@dataclass
class StepResult:
    """Outcome of one step: `succeeded`, `warned` or `skipped`, with per-subject rows."""

    status: str = "succeeded"
    message: str = ""
    subjects: list[SubjectResult] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """A registered step: its name and the import path of its function (`module:function`)."""

    name: str
    target: str
    description: str

    def load(self) -> Callable[[RunContext], StepResult]:
        module_name, function_name = self.target.split(":")
        function: Callable[[RunContext], StepResult] = getattr(
            importlib.import_module(module_name), function_name
        )
        return function


STEPS: tuple[Step, ...] = (
    Step("extract", "llmeter.extract:run_extract", "load every configured source into raw tables"),
    Step("build", "llmeter.build:run_build", "dbt build: seeds, models and their tests"),
    Step("publish", "llmeter.publish:run_publish", "copy the public marts to the published file"),
    Step("check", "llmeter.checks:run_checks", "Great Expectations checks and Data Docs"),
)


def step_named(name: str) -> Step:
    """Return the registered step called `name`."""
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(f"No step named {name!r}; the steps are {', '.join(s.name for s in STEPS)}")


def new_run_id() -> str:
    """Return a sortable run id: the UTC start time and a random suffix."""
    return audit.utc_now().strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def run_steps(context: RunContext, steps: Sequence[Step]) -> bool:
    """Run `steps` in order under the warehouse lock, recording each in `run_audit`.

    Returns True when every step succeeded, warned or was skipped. Stops at the first failed
    step and returns False after logging which step failed and why.
    """
    settings = context.settings
    with warehouse_lock(settings.lock_path, context.command):
        audit.ensure_table(settings.warehouse_path, settings.memory_limit)
        run_started_at = audit.utc_now()
        audit.write_rows(
            settings.warehouse_path,
            settings.memory_limit,
            run_id=context.run_id,
            command=context.command,
            step="run",
            started_at=run_started_at,
            ended_at=None,
            status="running",
        )

        failed_step: str | None = None
        failure_message = ""
        for step in steps:
            ok, message = _run_one(context, step)
            if not ok:
                failed_step = step.name
                failure_message = message
                break

        status = "succeeded" if failed_step is None else "failed"
        message = "" if failed_step is None else f"step {failed_step} failed: {failure_message}"
        audit.write_rows(
            settings.warehouse_path,
            settings.memory_limit,
            run_id=context.run_id,
            command=context.command,
            step="run",
            started_at=run_started_at,
            ended_at=audit.utc_now(),
            status=status,
            message=message,
        )

    if failed_step is not None:
        logger.error("Run %s failed at step %s: %s", context.run_id, failed_step, failure_message)
        return False
    logger.info("Run %s succeeded", context.run_id)
    return True


def _run_one(context: RunContext, step: Step) -> tuple[bool, str]:
    settings = context.settings
    started_at = audit.utc_now()
    clock_start = time.monotonic()
    logger.info("Step %s started: %s", step.name, step.description)
    try:
        result = step.load()(context)
    except Exception as error:  # every failure is recorded, then reported
        message = str(error) or type(error).__name__
        if not isinstance(error, StepFailedError):
            logger.exception("Step %s raised %s", step.name, type(error).__name__)
        audit.write_rows(
            settings.warehouse_path,
            settings.memory_limit,
            run_id=context.run_id,
            command=context.command,
            step=step.name,
            started_at=started_at,
            ended_at=audit.utc_now(),
            status="failed",
            message=message,
            subjects=error.subjects if isinstance(error, StepFailedError) else (),
        )
        logger.error(
            "Step %s failed after %.1f s: %s", step.name, time.monotonic() - clock_start, message
        )
        return False, message

    audit.write_rows(
        settings.warehouse_path,
        settings.memory_limit,
        run_id=context.run_id,
        command=context.command,
        step=step.name,
        started_at=started_at,
        ended_at=audit.utc_now(),
        status=result.status,
        message=result.message,
        subjects=result.subjects,
    )
    for subject in result.subjects:
        if subject.rows_read is not None:
            logger.info(
                "  %s: %s read, %s loaded, %s duplicate, %s rejected",
                subject.subject,
                subject.rows_read,
                subject.rows_loaded,
                subject.rows_duplicate,
                subject.rows_rejected,
            )
    logger.info(
        "Step %s %s in %.1f s%s",
        step.name,
        result.status,
        time.monotonic() - clock_start,
        f": {result.message}" if result.message else "",
    )
    return True, ""
