"""The extract step: run every configured dlt source and collect its row counts.

Each source is a function `extract(context) -> list[SubjectResult]` in its folder under
`pipelines/`. A source that is not configured (no key, no folder) raises `SourceSkippedError`
and the run goes on without it. A source that fails does not stop the others; the step fails
afterwards, naming every failed source.

The step runs the sources in a child Python process, as the build step runs dbt, so that the
memory the loaders used (the call log loader holds a group of parsed records at a time) goes
back to the operating system before dbt starts. The child reads the run context as JSON from
its standard input and inherits the environment, so keys never appear on its command line. It
sends its log records and its result back as JSON lines through a pipe. The parent logs each
record through its own handlers, and returns the result or raises `StepFailedError` with the
same subjects as an in-process run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import llmeter
from llmeter.audit import SubjectResult
from llmeter.settings import Settings
from llmeter.steps import RunContext, StepFailedError, StepResult

logger = logging.getLogger(__name__)

SOURCES: dict[str, str] = {
    "openai": "pipelines.openai:extract",
    "anthropic": "pipelines.anthropic:extract",
    "call_logs": "pipelines.call_logs:extract",
    "customers": "pipelines.customers:extract",
    "invoices": "pipelines.invoices:extract",
}

# Attributes of a log record that the child sends. The parent rebuilds the record from them.
LOG_RECORD_FIELDS = (
    "name",
    "levelno",
    "levelname",
    "pathname",
    "filename",
    "module",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "relativeCreated",
    "thread",
    "threadName",
    "process",
    "processName",
    "stack_info",
)


class SourceSkippedError(Exception):
    """Raised by a source that is not configured; the message names the missing setting."""


class ExtractProcessError(RuntimeError):
    """Raised when the extract child process raised an unexpected error or exited without a result.

    `error_type` names the exception class the child raised, or is empty when the child exited
    without reporting one.
    """

    def __init__(self, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type


def load_source(name: str) -> Callable[[RunContext], list[SubjectResult]]:
    """Import the extract function of source `name`."""
    module_name, function_name = SOURCES[name].split(":")
    function: Callable[[RunContext], list[SubjectResult]] = getattr(
        importlib.import_module(module_name), function_name
    )
    return function


def extract_sources(context: RunContext) -> StepResult:
    """Run the selected sources (all when none were named) in this process and return counts.

    Raises:
        StepFailedError: a source failed, a named source is not configured or unknown, or a
            file's rows read differ from loaded + duplicate + rejected.
    """
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


def run_extract(context: RunContext) -> StepResult:
    """Run the selected sources in a child process and return their counts.

    Raises:
        StepFailedError: as `extract_sources`, with the subjects the child reported, or when
            the child exited without a result (for example killed by the out-of-memory killer).
        ExtractProcessError: the child raised an error that is not a `StepFailedError`.
    """
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            extract_command(write_fd),
            stdin=subprocess.PIPE,
            env=child_environment(),
            pass_fds=(write_fd,),
            # Unbuffered, so that closing stdin after the child ended has nothing to flush.
            bufsize=0,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        # The child has its own copy of the write end. Without closing this one, the pipe would
        # never reach its end.
        os.close(write_fd)
    logger.debug("Extract process %d started", process.pid)

    with process, os.fdopen(read_fd, encoding="utf-8") as channel:
        assert process.stdin is not None
        try:
            level = logging.getLogger().getEffectiveLevel()
            process.stdin.write(context_to_json(context, level).encode())
            process.stdin.close()
        except BrokenPipeError:
            # The child ended before it read its context. Its exit code is reported below.
            pass
        outcome: dict[str, Any] | None = None
        for line in channel:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                # Only the last line of a child that was killed while it wrote can be cut off.
                logger.warning("Ignored an incomplete message from the extract process")
                continue
            if message["kind"] == "log":
                emit_child_record(message)
            else:
                outcome = message
        exit_code = process.wait()

    if outcome is None:
        raise StepFailedError(no_result_message(exit_code))
    if outcome["kind"] == "failed":
        raise StepFailedError(outcome["message"], subjects_from_json(outcome["subjects"]))
    if outcome["kind"] == "error":
        raise ExtractProcessError(outcome["message"], outcome["error_type"])
    return StepResult(
        status=outcome["status"],
        message=outcome["message"],
        subjects=subjects_from_json(outcome["subjects"]),
    )


def extract_command(message_fd: int) -> list[str]:
    """Return the child's command line: this Python, the child's entry point and the pipe's fd."""
    return [
        sys.executable,
        "-c",
        "import sys; from llmeter.extract import child_main; sys.exit(child_main())",
        str(message_fd),
    ]


def child_environment() -> dict[str, str]:
    """Return the child's environment: the caller's, with this copy of llmeter first on the path.

    The child then imports the same `llmeter` and `pipelines` packages as this process, also
    when it runs from a checkout that is not the installed one.
    """
    environment = dict(os.environ)
    import_root = str(Path(llmeter.__file__).resolve().parents[1])
    paths = [import_root, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


def no_result_message(exit_code: int) -> str:
    """Build the step's error for a child that ended without a result, from its exit code.

    A negative exit code is the signal that ended the child.
    """
    if exit_code >= 0:
        return (
            f"the extract process ended with exit code {exit_code} before it reported a result."
            " See the log above."
        )
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        name = str(-exit_code)
    message = f"the extract process ended by signal {name} before it reported a result."
    if -exit_code == signal.SIGKILL:
        message += (
            " The kernel's out-of-memory killer sends SIGKILL. If memory ran out, lower"
            " LLMETER_MEMORY_LIMIT or give the machine more memory."
        )
    return message


def emit_child_record(message: Mapping[str, Any]) -> None:
    """Log a record that the child sent through the handlers of this process."""
    target = logging.getLogger(message["name"])
    if not target.isEnabledFor(message["levelno"]):
        return
    record = logging.makeLogRecord(
        {
            **{name: message[name] for name in LOG_RECORD_FIELDS},
            "msg": message["message"],
            "args": None,
            "exc_info": None,
            "exc_text": message["exc_text"],
        }
    )
    target.handle(record)


def context_to_json(context: RunContext, log_level: int) -> str:
    """Serialize the run context and the log level that the child applies."""
    settings = context.settings
    return json.dumps(
        {
            "settings": {
                "project_root": str(settings.project_root),
                "warehouse_path": str(settings.warehouse_path),
                "published_path": str(settings.published_path),
                "memory_limit": settings.memory_limit,
                "as_of_date": settings.as_of_date.isoformat(),
            },
            "run_id": context.run_id,
            "command": context.command,
            "since": context.since.isoformat() if context.since else None,
            "until": context.until.isoformat() if context.until else None,
            "full_refresh": context.full_refresh,
            "sources": list(context.sources),
            "log_level": log_level,
        }
    )


def context_from_json(text: str) -> tuple[RunContext, int]:
    """Rebuild the run context and the log level that `context_to_json` serialized."""
    data = json.loads(text)
    settings = data["settings"]
    context = RunContext(
        settings=Settings(
            project_root=Path(settings["project_root"]),
            warehouse_path=Path(settings["warehouse_path"]),
            published_path=Path(settings["published_path"]),
            memory_limit=settings["memory_limit"],
            as_of_date=dt.date.fromisoformat(settings["as_of_date"]),
        ),
        run_id=data["run_id"],
        command=data["command"],
        since=dt.date.fromisoformat(data["since"]) if data["since"] else None,
        until=dt.date.fromisoformat(data["until"]) if data["until"] else None,
        full_refresh=data["full_refresh"],
        sources=data["sources"],
    )
    return context, int(data["log_level"])


def subjects_to_json(subjects: list[SubjectResult]) -> list[dict[str, Any]]:
    """Serialize subjects. A detail that JSON has no type for becomes `str`, as in run_audit."""
    serialized: list[dict[str, Any]] = json.loads(
        json.dumps([dataclasses.asdict(subject) for subject in subjects], default=str)
    )
    return serialized


def subjects_from_json(items: list[dict[str, Any]]) -> list[SubjectResult]:
    """Rebuild the subjects that `subjects_to_json` serialized."""
    return [SubjectResult(**item) for item in items]


class ChildChannel:
    """The child's end of the pipe: one JSON message a line, written whole under a lock."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: Mapping[str, Any]) -> None:
        line = json.dumps(message, default=str) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


class ForwardingHandler(logging.Handler):
    """Send each log record of the child to the parent, its message and traceback formatted."""

    def __init__(self, channel: ChildChannel) -> None:
        super().__init__()
        self._channel = channel
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exc_text = record.exc_text
            if record.exc_info and not exc_text:
                exc_text = self._formatter.formatException(record.exc_info)
            self._channel.send(
                {
                    "kind": "log",
                    **{name: getattr(record, name, None) for name in LOG_RECORD_FIELDS},
                    "message": record.getMessage(),
                    "exc_text": exc_text,
                }
            )
        except Exception:
            self.handleError(record)


def child_main() -> int:
    """Run the extract step in the child process that `run_extract` started.

    `sys.argv[1]` is the file descriptor of the pipe to the parent. The exit code is 0 once a
    result or an error was sent; anything else means the child could not report one.
    """
    with os.fdopen(int(sys.argv[1]), "w", encoding="utf-8") as stream:
        channel = ChildChannel(stream)
        context, log_level = context_from_json(sys.stdin.read())
        root = logging.getLogger()
        root.handlers = [ForwardingHandler(channel)]
        root.setLevel(log_level)

        try:
            result = extract_sources(context)
        except StepFailedError as failure:
            channel.send(
                {
                    "kind": "failed",
                    "message": str(failure),
                    "subjects": subjects_to_json(failure.subjects),
                }
            )
            return 0
        except Exception as error:  # reported to the parent, which fails the step with it
            logger.exception("The extract process raised %s", type(error).__name__)
            channel.send(
                {
                    "kind": "error",
                    "error_type": type(error).__name__,
                    "message": str(error) or type(error).__name__,
                }
            )
            return 0
        channel.send(
            {
                "kind": "result",
                "status": result.status,
                "message": result.message,
                "subjects": subjects_to_json(result.subjects),
            }
        )
    return 0
