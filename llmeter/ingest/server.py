"""`llmeter ingest serve`: the HTTP endpoint that appends call-log records to the spool folder.

`POST /v1/ingest` takes a JSON array or NDJSON body of records (schema version 1), checks each
record, and responds 202 with `{"accepted": N, "rejected": [{"index": i, "reason": "..."}],
"content_fields_dropped": K}` once the accepted records are in a closed, fsynced spool file.
`GET /healthz` responds 200 `{"status": "ok"}`.

The server is the standard library's ThreadingHTTPServer: one thread per connection, HTTP/1.0
(one request per connection). It speaks plain HTTP, so put a TLS-terminating proxy in front of it
when clients reach it over a network.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from llmeter.ingest.spool import write_spool_file
from llmeter.ingest.validation import check_record
from llmeter.settings import ProjectNotFoundError, find_project_root

logger = logging.getLogger("llmeter.ingest")

TOKEN_ENVIRONMENT_VARIABLE = "LLMETER_INGEST_TOKEN"
SPOOL_ENVIRONMENT_VARIABLE = "SOURCES__CALL_LOGS__BUCKET_URL"
DEFAULT_SPOOL_DIR = "data/call_logs"
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_RECORDS_PER_REQUEST = 1000
MIN_RECOMMENDED_TOKEN_LENGTH = 16
REQUEST_TIMEOUT_SECONDS = 30
LINGER_SECONDS = 5.0
# How often the serving loop checks for a stop request; a stop takes at most this long.
SHUTDOWN_POLL_SECONDS = 0.1
LINGER_MAX_BYTES = 64 * 1024 * 1024
INGEST_PATH = "/v1/ingest"
HEALTH_PATH = "/healthz"
NDJSON_MEDIA_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonl"})
JSON_MEDIA_TYPE = "application/json"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class BodyError(Exception):
    """A request body that cannot be read as records at all, and the HTTP status to respond with."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class _UnparsableLine:
    """An NDJSON line that is not valid JSON; it becomes a rejection of its own."""

    reason: str


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def parse_body(body: bytes, content_type: str | None, max_records: int) -> list[object]:
    """Decode a request body into a list of JSON values, one per record.

    A JSON array body (`application/json`) gives its elements. An NDJSON body
    (`application/x-ndjson`) gives one value per non-blank line, and a line that is not valid
    JSON becomes an `_UnparsableLine` so that only that record is rejected. Without a
    Content-Type, a body that starts with `[` is read as an array and any other as NDJSON.

    Raises:
        BodyError: the body is not UTF-8, not JSON or NDJSON, not an array, of an unsupported
            media type, or has more than `max_records` records.
    """
    media_type = _media_type(content_type)
    if (
        media_type is not None
        and media_type != JSON_MEDIA_TYPE
        and (media_type not in NDJSON_MEDIA_TYPES)
    ):
        raise BodyError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {media_type} is not supported; send application/json (an array of "
            "records) or application/x-ndjson (one record per line)",
        )
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BodyError(
            HTTPStatus.BAD_REQUEST, f"body is not valid UTF-8 at byte {error.start}"
        ) from error
    if not text.strip():
        raise BodyError(HTTPStatus.BAD_REQUEST, "body is empty; send at least one record")

    as_array = media_type == JSON_MEDIA_TYPE or (
        media_type is None and text.lstrip().startswith("[")
    )
    values = _parse_array(text) if as_array else _parse_ndjson(text)
    if len(values) > max_records:
        raise BodyError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"body holds {len(values)} records; the maximum is {max_records} per request",
        )
    return values


def _parse_array(text: str) -> list[object]:
    try:
        value = _loads(text)
    except (ValueError, RecursionError) as error:
        raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {error}") from error
    if not isinstance(value, list):
        raise BodyError(
            HTTPStatus.BAD_REQUEST,
            "body must be a JSON array of records, or NDJSON with "
            "Content-Type: application/x-ndjson",
        )
    return value


def _parse_ndjson(text: str) -> list[object]:
    values: list[object] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(_loads(line))
        except (ValueError, RecursionError) as error:
            values.append(_UnparsableLine(f"line {line_number} is not valid JSON: {error}"))
    if values and all(isinstance(value, _UnparsableLine) for value in values):
        first = values[0]
        assert isinstance(first, _UnparsableLine)
        raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not JSON or NDJSON: {first.reason}")
    return values


@dataclass
class IngestResult:
    """The outcome of one request's records, returned as the 202 response body."""

    accepted: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)
    content_fields_dropped: int = 0
    content_field_names: set[str] = field(default_factory=set)

    def response_body(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "content_fields_dropped": self.content_fields_dropped,
        }


def ingest_values(values: list[object], spool_dir: Path) -> IngestResult:
    """Check decoded records and append the valid ones to one new closed spool file.

    Raises:
        OSError: the spool file could not be written; nothing of the request was stored.
    """
    result = IngestResult()
    accepted: list[dict[str, Any]] = []
    for index, value in enumerate(values):
        if isinstance(value, _UnparsableLine):
            result.rejected.append({"index": index, "reason": value.reason})
            continue
        check = check_record(value)
        if check.content_fields:
            result.content_fields_dropped += 1
            result.content_field_names.update(check.content_fields)
        if check.record is None:
            result.rejected.append({"index": index, "reason": check.reason})
        else:
            accepted.append(check.record)
    if accepted:
        write_spool_file(spool_dir, accepted)
    result.accepted = len(accepted)
    return result


class IngestServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that stores accepted call-log records in `spool_dir`.

    Request threads are joined on `server_close()`, so a stop lets every request that was
    already being handled finish writing its spool file and respond.
    """

    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        token: str,
        spool_dir: Path,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_records: int = MAX_RECORDS_PER_REQUEST,
    ) -> None:
        if not token.strip():
            raise ValueError(f"{TOKEN_ENVIRONMENT_VARIABLE} is empty; set it to a bearer token")
        self.token = token.encode("utf-8")
        self.spool_dir = spool_dir
        self.max_body_bytes = max_body_bytes
        self.max_records = max_records
        self._serve_thread: threading.Thread | None = None
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, IngestHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{INGEST_PATH}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log an unexpected error of a request thread instead of printing it to stderr."""
        logger.exception("Failed to handle a request from %s", client_address[0])

    def start(self) -> None:
        """Serve in a background thread until `stop()`."""
        self._serve_thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="llmeter-ingest",
            daemon=True,
        )
        self._serve_thread.start()

    def stop(self) -> None:
        """Stop accepting connections, let the requests in progress finish, and close."""
        self.shutdown()
        self.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join()


def start_server(
    spool_dir: Path,
    token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_records: int = MAX_RECORDS_PER_REQUEST,
) -> IngestServer:
    """Bind the ingest server and serve in a background thread; port 0 picks a free port.

    Returns:
        The running server; call `stop()` on it to shut it down.
    """
    spool_dir.mkdir(parents=True, exist_ok=True)
    server = IngestServer((host, port), token, spool_dir, max_body_bytes, max_records)
    server.start()
    return server


class IngestHandler(BaseHTTPRequestHandler):
    """Handles `POST /v1/ingest` and `GET /healthz`; one request per connection."""

    server: IngestServer
    server_version = "llmeter-ingest"
    sys_version = ""
    timeout = REQUEST_TIMEOUT_SECONDS
    _body_read = False

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _discard_unread_body(self) -> None:
        """Read and drop what the client still sends after an early error response.

        Closing a socket with unread input resets the connection, and the client can then lose
        the response before it reads it. So the server half-closes and drains, for at most
        LINGER_SECONDS and LINGER_MAX_BYTES.
        """
        if self._body_read:
            return
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            discarded = 0
            while discarded < LINGER_MAX_BYTES and time.monotonic() < deadline:
                chunk = self.rfile.read1(65536)
                if not chunk:
                    break
                discarded += len(chunk)
        except OSError:
            pass

    def _send_json(self, status: HTTPStatus, payload: dict[str, object]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="llmeter-ingest"')
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, status: HTTPStatus, reason: str) -> None:
        self._send_json(status, {"error": reason})

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == HEALTH_PATH:
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        else:
            self._send_error(HTTPStatus.NOT_FOUND, f"no such path; use POST {INGEST_PATH}")

    def _is_authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode("utf-8"), self.server.token)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise BodyError(
                HTTPStatus.LENGTH_REQUIRED,
                "chunked request bodies are not supported; send a Content-Length header",
            )
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise BodyError(HTTPStatus.LENGTH_REQUIRED, "missing Content-Length header")
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length < 0:
            raise BodyError(HTTPStatus.BAD_REQUEST, "Content-Length is not a non-negative integer")
        if length > self.server.max_body_bytes:
            raise BodyError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body has {length} bytes; the maximum is {self.server.max_body_bytes} bytes "
                f"per request (send at most {self.server.max_records} records per request)",
            )
        body = self.rfile.read(length)
        self._body_read = True
        if len(body) != length:
            raise BodyError(
                HTTPStatus.BAD_REQUEST,
                f"body ended after {len(body)} of {length} bytes",
            )
        return body

    def do_POST(self) -> None:
        started = time.perf_counter()
        client = self.address_string()
        self._body_read = False
        if self.path.split("?", 1)[0] != INGEST_PATH:
            self._send_error(HTTPStatus.NOT_FOUND, f"no such path; use POST {INGEST_PATH}")
            self._discard_unread_body()
            return
        if not self._is_authorized():
            logger.warning("Rejected a request from %s: missing or invalid bearer token", client)
            self._send_error(
                HTTPStatus.UNAUTHORIZED,
                "missing or invalid bearer token; send Authorization: Bearer <token>",
            )
            self._discard_unread_body()
            return

        try:
            body = self._read_body()
            values = parse_body(body, self.headers.get("Content-Type"), self.server.max_records)
        except BodyError as error:
            logger.warning(
                "Rejected a request from %s with %d: %s", client, error.status, error.reason
            )
            self._send_error(error.status, error.reason)
            self._discard_unread_body()
            return
        except OSError as error:
            # A client that stalls longer than REQUEST_TIMEOUT_SECONDS or drops the connection.
            logger.warning("Failed to read the request body from %s: %s", client, error)
            self.close_connection = True
            return

        try:
            result = ingest_values(values, self.server.spool_dir)
        except OSError as error:
            logger.error(
                "Failed to write a spool file in %s for %d records from %s: %s",
                self.server.spool_dir,
                len(values),
                client,
                error,
            )
            self._send_error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "the records could not be stored; nothing of this request was kept, retry later",
            )
            return

        self._log_result(client, len(values), result, started)
        self._send_json(HTTPStatus.ACCEPTED, result.response_body())

    def _log_result(self, client: str, received: int, result: IngestResult, started: float) -> None:
        logger.info(
            "Ingested from %s: %d records, %d accepted, %d rejected, "
            "%d with content fields dropped (%.1f ms)",
            client,
            received,
            result.accepted,
            len(result.rejected),
            result.content_fields_dropped,
            (time.perf_counter() - started) * 1000,
        )
        if result.content_fields_dropped:
            logger.warning(
                "Dropped the content fields %s from %d records from %s; "
                "call logs must carry usage only, never prompts or completions",
                ", ".join(sorted(result.content_field_names)),
                result.content_fields_dropped,
                client,
            )


def resolve_spool_dir(cli_value: str | None) -> Path:
    """Resolve the spool folder: `--spool`, else SOURCES__CALL_LOGS__BUCKET_URL, else the default.

    A relative `--spool` is taken from the working directory. A relative setting or default is
    taken from the project root, like the warehouse path, or from the working directory when no
    project is found.

    Raises:
        ValueError: the value is a URL of a scheme other than `file://`.
    """
    value = cli_value or os.environ.get(SPOOL_ENVIRONMENT_VARIABLE) or DEFAULT_SPOOL_DIR
    if value.startswith("file://"):
        value = value.removeprefix("file://")
    elif "://" in value:
        raise ValueError(
            f"the ingest server writes to a local folder, but the spool is {value!r}; "
            "pass --spool with a local path"
        )
    path = Path(value).expanduser()
    if path.is_absolute() or cli_value:
        return path.resolve()
    try:
        return (find_project_root() / path).resolve()
    except ProjectNotFoundError:
        return path.resolve()


def serve_command(arguments: argparse.Namespace) -> int:
    """Run `llmeter ingest serve` until SIGTERM or SIGINT and return the exit code."""
    token = os.environ.get(TOKEN_ENVIRONMENT_VARIABLE, "")
    if not token.strip():
        logger.error(
            "%s is not set. Set it to the bearer token that clients must send, for example "
            "the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            TOKEN_ENVIRONMENT_VARIABLE,
        )
        return EXIT_USAGE
    if len(token) < MIN_RECOMMENDED_TOKEN_LENGTH:
        logger.warning(
            "%s has fewer than %d characters; use a long random token",
            TOKEN_ENVIRONMENT_VARIABLE,
            MIN_RECOMMENDED_TOKEN_LENGTH,
        )

    spool_dir = resolve_spool_dir(arguments.spool)
    try:
        server = start_server(spool_dir, token, arguments.host, arguments.port)
    except OSError as error:
        logger.error(
            "Failed to start the ingest server on %s:%s with spool folder %s: %s",
            arguments.host,
            arguments.port,
            spool_dir,
            error,
        )
        return EXIT_FAILED

    stop_requested = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        logger.info("Received %s; stopping", signal.Signals(signal_number).name)
        stop_requested.set()

    previous_handlers = {
        signal_number: signal.signal(signal_number, request_stop)
        for signal_number in (signal.SIGTERM, signal.SIGINT)
    }
    logger.info("Ingest server started; spool folder %s", spool_dir)
    print(f"Listening on {server.url}", flush=True)
    try:
        while not stop_requested.wait(0.5):
            pass
    finally:
        server.stop()
        for signal_number, handler in previous_handlers.items():
            signal.signal(signal_number, handler)
        logger.info("Ingest server stopped")
    return EXIT_OK
