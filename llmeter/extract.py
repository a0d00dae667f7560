"""The extract step: run every configured dlt source and collect its row counts.

Each source is a function `extract(context) -> list[SubjectResult]` in its folder under
`pipelines/`. A source that is not configured (no key, no folder) raises `SourceSkippedError`
and the run goes on without it. A source that fails does not stop the others; the step fails
afterwards, naming every failed source.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from llmeter.audit import SubjectResult
from llmeter.steps import RunContext, StepFailedError, StepResult

logger = logging.getLogger(__name__)

SOURCES: dict[str, str] = {
    "openai": "pipelines.openai:extract",
    "anthropic": "pipelines.anthropic:extract",
    "call_logs": "pipelines.call_logs:extract",
    "customers": "pipelines.customers:extract",
    "invoices": "pipelines.invoices:extract",
}


class SourceSkippedError(Exception):
    """Raised by a source that is not configured; the message names the missing setting."""


def load_source(name: str) -> Callable[[RunContext], list[SubjectResult]]:
    """Import the extract function of source `name`."""
    module_name, function_name = SOURCES[name].split(":")
    function: Callable[[RunContext], list[SubjectResult]] = getattr(
        importlib.import_module(module_name), function_name
    )
    return function


def run_extract(context: RunContext) -> StepResult:
    """Run the selected sources (all when none were named) and return their counts."""
    unknown = [name for name in context.sources if name not in SOURCES]
    if unknown:
        raise StepFailedError(
            f"Unknown source {', '.join(unknown)}; the sources are {', '.join(SOURCES)}"
        )

    selected = list(context.sources) or list(SOURCES)
    subjects: list[SubjectResult] = []
    failed: list[str] = []
    for name in selected:
        try:
            results = load_source(name)(context)
        except SourceSkippedError as skipped:
            if name in context.sources:
                # A source the user named on the command line must not pass silently.
                failed.append(f"{name} is not configured: {skipped}")
                subjects.append(SubjectResult(subject=name, status="failed", message=str(skipped)))
                continue
            logger.info("Source %s skipped: %s", name, skipped)
            subjects.append(SubjectResult(subject=name, status="skipped", message=str(skipped)))
            continue
        except Exception as error:  # one failed source must not hide the others
            logger.exception("Source %s failed", name)
            failed.append(f"{name} ({error})")
            subjects.append(SubjectResult(subject=name, status="failed", message=str(error)))
            continue
        subjects.extend(results)

    unbalanced = [subject.subject for subject in subjects if not subject.is_balanced]
    if unbalanced:
        failed.append(
            "rows read differ from loaded + duplicate + rejected for " + ", ".join(unbalanced)
        )
    if failed:
        raise StepFailedError("; ".join(failed), subjects)
    return StepResult(subjects=subjects)
