"""The check step: Great Expectations checks of the published marts, then Data Docs.

The step reads the published DuckDB file (`Settings.published_path`) read-only, after build and
publish. Each mart of `suites.MART_CHECKS` that the file has is read into pandas and validated
on its own. A mart the file does not have yet is skipped with a logged line. Every validation
becomes one `gx:<mart>` row of `run_audit`, whose details hold the row count (the next check's
row-count baseline) and every failed expectation with its observed values.

An expectation fails when it does not hold and also when GX could not evaluate it (an exception
inside GX, or no observed value). Any failure fails the step with a message per problem: for
the invoice reconciliation, one per invoice, naming the provider, the period, the invoice
amount, the computed amount, the difference and the likely cause.
"""

from __future__ import annotations

import logging

# GX logs hundreds of INFO lines per run, from its import and its config loading. Unless its
# logger was configured already, only its warnings and errors are kept. This runs before the
# first import of GX below, because some of those lines are logged at import time.
if logging.getLogger("great_expectations").level == logging.NOTSET:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from llmeter import warehouse
from llmeter.audit import SubjectResult
from llmeter.checks import marts, project
from llmeter.checks.messages import describe_reconciliation_row
from llmeter.checks.results import ExpectationOutcome, judge
from llmeter.checks.suites import (
    MART_CHECKS,
    RECONCILIATION_MART,
    MartCheck,
    MartSuite,
    row_count_parameters,
)
from llmeter.steps import RunContext, StepFailedError, StepResult

logger = logging.getLogger(__name__)

__all__ = ["run_checks"]


@dataclass
class MartOutcome:
    """The audit row of one mart's validation, its failure messages and its stored results."""

    subject: SubjectResult
    messages: list[str] = field(default_factory=list)
    validation_result_identifiers: list[Any] = field(default_factory=list)


def _describes_rows(outcome: ExpectationOutcome) -> bool:
    """Return whether the outcome's failing rows are invoices to describe one by one."""
    return bool(outcome.meta.get("describes_rows")) and outcome.problem == "failed"


def _reconciliation_messages(
    frame: pd.DataFrame, failed: Sequence[ExpectationOutcome]
) -> list[str]:
    """Describe once each invoice row that a failed status or tolerance expectation lists."""
    indexes: list[Any] = []
    for outcome in failed:
        if _describes_rows(outcome):
            indexes.extend(outcome.unexpected_index_list)
    rows = frame.loc[list(dict.fromkeys(indexes))] if indexes else frame.iloc[0:0]
    sort_columns = [name for name in ("provider", "period_start_date") if name in rows.columns]
    if sort_columns:
        rows = rows.sort_values(sort_columns)
    messages = []
    for _, row in rows.iterrows():
        values = {name: (None if pd.isna(value) else value) for name, value in row.items()}
        messages.append(describe_reconciliation_row(values))
    return messages


def _failure_messages(
    check: MartCheck, frame: pd.DataFrame, failed: Sequence[ExpectationOutcome]
) -> list[str]:
    messages: list[str] = []
    listed_rows = False
    if check.mart == RECONCILIATION_MART:
        row_messages = _reconciliation_messages(frame, failed)
        messages.extend(row_messages)
        listed_rows = bool(row_messages)
    for outcome in failed:
        if listed_rows and _describes_rows(outcome) and outcome.unexpected_index_list:
            continue  # the rows are described above
        messages.append(f"{check.mart}: {outcome.describe()}")
    return messages


def _validate(
    gx_context: Any,
    check: MartCheck,
    suite: MartSuite,
    frame: pd.DataFrame,
    parameters: dict[str, int | None],
) -> tuple[list[ExpectationOutcome], list[Any], str]:
    """Run the mart's checkpoint and judge each result; return an error when GX could not run.

    Returns the judged outcomes, the identifiers of the stored validation results and the error.
    """
    try:
        checkpoint = project.register(gx_context, suite)
        results, identifiers = project.run_checkpoint(checkpoint, frame, parameters)
    # A validation that GX cannot run fails; it never passes.
    except Exception as error:
        logger.exception("GX could not validate %s", check.mart)
        return (
            [],
            [],
            f"{check.mart}: GX could not validate the mart: {type(error).__name__}: {error}",
        )
    outcomes = [judge(result) for result in results]
    if len(outcomes) != len(suite.expectations):
        return (
            outcomes,
            identifiers,
            f"{check.mart}: GX returned {len(outcomes)} results for "
            f"{len(suite.expectations)} expectations",
        )
    return outcomes, identifiers, ""


def check_mart(
    connection: duckdb.DuckDBPyConnection,
    gx_context: Any,
    check: MartCheck,
    previous_row_count: int | None,
) -> MartOutcome:
    """Validate one published mart, or skip it when the published file does not have it."""
    subject = f"{marts.SUBJECT_PREFIX}{check.mart}"
    relation = marts.find_mart(connection, check.mart)
    if relation is None:
        logger.info("GX check of %s skipped: the published file has no such mart", check.mart)
        return MartOutcome(
            SubjectResult(
                subject=subject,
                status="skipped",
                message="the published file has no such mart",
            )
        )

    suite = check.build_suite(relation)
    frame = marts.read_mart(connection, relation, suite.columns())
    parameters = row_count_parameters(previous_row_count)
    outcomes, identifiers, error = _validate(gx_context, check, suite, frame, parameters)
    failed = [outcome for outcome in outcomes if not outcome.passed]

    messages = _failure_messages(check, frame, failed)
    if error:
        messages.append(error)
    details: dict[str, Any] = {
        "row_count": len(frame),
        "previous_row_count": previous_row_count,
        **parameters,
        "expectations": len(suite.expectations),
        "failed_expectations": [outcome.as_details() for outcome in failed],
    }
    if error:
        details["error"] = error
    status = "failed" if messages else "succeeded"
    summary = (
        f"{len(failed)} of {len(suite.expectations)} expectations failed"
        if failed
        else f"all {len(suite.expectations)} expectations passed"
    )
    logger.info("GX check of %s (%d rows): %s", check.mart, len(frame), error or summary)
    return MartOutcome(
        SubjectResult(
            subject=subject,
            status=status,
            message="; ".join(messages) if messages else summary,
            details=details,
        ),
        messages,
        identifiers,
    )


def run_checks(context: RunContext) -> StepResult:
    """Check every published mart that exists, update Data Docs, and fail on any failure."""
    settings = context.settings
    published_path = settings.published_path
    if not published_path.is_file():
        raise StepFailedError(
            f"The published file {published_path} does not exist; run `llmeter publish` first"
        )

    previous_counts = marts.previous_row_counts(
        settings.warehouse_path, settings.memory_limit, context.run_id
    )
    output_folder = settings.warehouse_path.parent
    gx_context = project.open_context(settings.project_root, output_folder)
    project.register_assets(gx_context, [check.mart for check in MART_CHECKS])

    outcomes: list[MartOutcome] = []
    with warehouse.connection(
        published_path, memory_limit=settings.memory_limit, read_only=True
    ) as connection:
        for check in MART_CHECKS:
            outcomes.append(
                check_mart(connection, gx_context, check, previous_counts.get(check.mart))
            )

    subjects = [outcome.subject for outcome in outcomes]
    messages = [message for outcome in outcomes for message in outcome.messages]
    checked = sum(1 for subject in subjects if subject.status != "skipped")

    docs_note = ""
    try:
        docs_path = project.build_data_docs(
            gx_context,
            output_folder,
            suite_names=[
                check.mart
                for check, outcome in zip(MART_CHECKS, outcomes, strict=True)
                if outcome.subject.status != "skipped"
            ],
            validation_result_identifiers=[
                identifier
                for outcome in outcomes
                for identifier in outcome.validation_result_identifiers
            ],
        )
    # Data Docs that fail to build must not hide the check results.
    except Exception as error:
        logger.exception("Building the GX Data Docs failed")
        docs_note = f"Data Docs were not updated: {error}"
    else:
        logger.info("GX Data Docs: %s", docs_path.as_uri())
        docs_note = f"Data Docs: {docs_path.as_uri()}"

    if messages:
        for message in messages:
            logger.error("GX check failed: %s", message)
        raise StepFailedError(
            f"{len(messages)} GX check failures:\n- " + "\n- ".join(messages) + f"\n{docs_note}",
            subjects,
        )
    return StepResult(
        status="succeeded" if docs_note.startswith("Data Docs:") else "warned",
        message=f"{checked} marts checked, {len(subjects) - checked} skipped. {docs_note}",
        subjects=subjects,
    )
