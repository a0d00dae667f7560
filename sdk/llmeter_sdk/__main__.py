"""`python -m llmeter_sdk send`: post the closed spool files to LLMeter's ingest endpoint."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from llmeter_sdk._sender import TOKEN_ENVIRONMENT_VARIABLE, Sender


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command and return its exit code: 0 sent, 1 files kept, 2 invalid usage."""
    parser = argparse.ArgumentParser(prog="python -m llmeter_sdk", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    send = commands.add_parser(
        "send", help=f"send the closed spool files once (token from {TOKEN_ENVIRONMENT_VARIABLE})"
    )
    send.add_argument("--endpoint", required=True, help="the ingest URL, https://host/v1/ingest")
    send.add_argument(
        "--spool", default=None, help="spool folder (default LLMETER_SPOOL_DIR or data/call_logs)"
    )
    send.add_argument(
        "--every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="keep sending, a pass every SECONDS, until interrupted",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    try:
        sender = Sender(arguments.endpoint, spool_dir=arguments.spool)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if arguments.every is not None:
        try:
            sender.run(arguments.every)
        except KeyboardInterrupt:
            return 0
    report = sender.send_pending()
    print(
        f"{report.files_sent} files sent, {report.records_accepted} records accepted, "
        f"{report.records_rejected} rejected, {report.files_kept} files kept"
    )
    return 0 if report.files_kept == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
