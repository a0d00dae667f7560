"""The `llmeter` command line.

Exit codes: 0 success; 1 a step or command failed (the message names it); 2 invalid usage or
settings; 3 another run holds the warehouse lock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import sys
from collections.abc import Sequence

import duckdb

from llmeter import __version__
from llmeter.extract import SOURCES
from llmeter.lock import WarehouseLockedError
from llmeter.settings import ProjectNotFoundError, load_settings
from llmeter.steps import STEPS, RunContext, new_run_id, run_steps, step_named

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3

logger = logging.getLogger("llmeter")


def _utc_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-11-01, got {value!r}"
        ) from error


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=_utc_date,
        help="first UTC date (inclusive) to re-extract and rebuild, YYYY-MM-DD",
    )
    parser.add_argument(
        "--until",
        type=_utc_date,
        help="last UTC date (inclusive) to re-extract and rebuild, YYYY-MM-DD",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="llmeter",
        description="Per-customer LLM cost, revenue and margin warehouse.",
    )
    parser.add_argument("--version", action="version", version=f"llmeter {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="the nightly job: " + ", then ".join(step.name for step in STEPS)
    )
    _add_window_options(run)
    run.add_argument(
        "--full-refresh", action="store_true", help="rebuild every dbt model from the loaded data"
    )

    extract = commands.add_parser("extract", help="load sources into the warehouse's raw tables")
    extract.add_argument(
        "sources", nargs="*", metavar="SOURCE", help="sources to load (default: all)"
    )
    _add_window_options(extract)

    build = commands.add_parser("build", help="dbt build: seeds, models and their tests")
    _add_window_options(build)
    build.add_argument(
        "--full-refresh", action="store_true", help="rebuild every dbt model from the loaded data"
    )

    commands.add_parser("publish", help="copy the public marts to the published file for BI")
    commands.add_parser("check", help="run the Great Expectations checks and update Data Docs")

    demo = commands.add_parser(
        "demo",
        help="generate the demo company, serve its provider APIs on 127.0.0.1 and run the job",
    )
    demo.add_argument(
        "--customers", type=int, default=200, help="number of customers (default 200)"
    )
    demo.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    demo.add_argument(
        "--calls-per-day",
        type=int,
        default=None,
        help="mean tagged and untagged calls per day (default: about 200,000 calls in total)",
    )
    demo.add_argument(
        "--as-of",
        type=_utc_date,
        default=dt.date(2026, 11, 1),
        help="the simulated today, YYYY-MM-DD; the history ends the day before "
        "(default 2026-11-01)",
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument(
        "--output",
        default="data/demo",
        help="folder for the generated files, relative to the project root (default data/demo)",
    )
    demo.add_argument(
        "--generate-only", action="store_true", help="write the demo files and stop without a run"
    )

    prices = commands.add_parser("prices", help="model price seeds")
    prices_commands = prices.add_subparsers(dest="prices_command", required=True, metavar="ACTION")
    refresh = prices_commands.add_parser(
        "refresh", help="regenerate seeds/model_prices.csv from the installed genai-prices"
    )
    refresh.add_argument(
        "--date",
        type=_utc_date,
        default=None,
        help="the refresh day that opens changed prices (default: today in UTC)",
    )

    ingest = commands.add_parser("ingest", help="the call-log ingest endpoint")
    ingest_commands = ingest.add_subparsers(dest="ingest_command", required=True, metavar="ACTION")
    serve = ingest_commands.add_parser("serve", help="serve POST /v1/ingest until stopped")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port to bind (default 8787)")
    serve.add_argument(
        "--spool",
        default=None,
        help="spool folder for accepted records (default: SOURCES__CALL_LOGS__BUCKET_URL "
        "or data/call_logs)",
    )
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
    )


def _run_command(arguments: argparse.Namespace) -> int:
    settings = load_settings()
    names = [step.name for step in STEPS] if arguments.command == "run" else [arguments.command]
    context = RunContext(
        settings=settings,
        run_id=new_run_id(),
        command=arguments.command,
        since=getattr(arguments, "since", None),
        until=getattr(arguments, "until", None),
        full_refresh=getattr(arguments, "full_refresh", False),
        sources=getattr(arguments, "sources", ()) or (),
    )
    if context.since and context.until and context.since > context.until:
        logger.error("--since %s is after --until %s", context.since, context.until)
        return EXIT_USAGE
    unknown = [name for name in context.sources if name not in SOURCES]
    if unknown:
        logger.error(
            "Unknown source %s; the sources are %s", ", ".join(unknown), ", ".join(SOURCES)
        )
        return EXIT_USAGE
    today = dt.datetime.now(dt.UTC).date()
    if settings.as_of_date > today + dt.timedelta(days=1):
        logger.warning(
            "LLMETER_AS_OF %s is after today (%s UTC): days up to it count as complete",
            settings.as_of_date,
            today,
        )
    logger.info(
        "Run %s: %s on %s (as of %s)",
        context.run_id,
        ", ".join(names),
        settings.warehouse_path,
        settings.as_of_date,
    )
    ok = run_steps(context, [step_named(name) for name in names])
    return EXIT_OK if ok else EXIT_FAILED


def _delegate(target: str, arguments: argparse.Namespace) -> int:
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    exit_code: int = function(arguments)
    return exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `llmeter` command line and return its exit code."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    _configure_logging(arguments.verbose)

    try:
        if arguments.command in {"run", "extract", "build", "publish", "check"}:
            return _run_command(arguments)
        if arguments.command == "demo":
            return _delegate("llmeter.demo.command:run_demo", arguments)
        if arguments.command == "prices":
            return _delegate("llmeter.prices.refresh:refresh_command", arguments)
        if arguments.command == "ingest":
            return _delegate("llmeter.ingest.server:serve_command", arguments)
    except WarehouseLockedError as error:
        logger.error("%s", error)
        return EXIT_LOCKED
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
        logger.error(
            "Another process holds the warehouse file open (%s). BI tools and DuckDB shells "
            "should read the published file instead (LLMETER_PUBLISHED); close that process "
            "and run again.",
            error,
        )
        return EXIT_LOCKED
    except (ProjectNotFoundError, ValueError) as error:
        logger.error("%s", error)
        return EXIT_USAGE
    parser.error(f"unknown command {arguments.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
