"""The optional sender: posts closed spool files to LLMeter's ingest endpoint.

Each closed `*.ndjson` file is sent in NDJSON batches of at most 1,000 records (and 4 MiB), and
deleted once every batch got a 2xx response. Records the endpoint rejects are appended to
`<spool>/rejected/<file name>` and logged with the endpoint's reasons. A file whose batch could
not be delivered after the retries stays in place for the next pass. A resent batch produces
duplicates only in transit: the loader deduplicates records by `event_id`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmeter_sdk._recorder import SPOOL_DIR_ENVIRONMENT_VARIABLE
from llmeter_sdk._spool import DEFAULT_SPOOL_DIR, SPOOL_SUFFIX

logger = logging.getLogger("llmeter_sdk.sender")

TOKEN_ENVIRONMENT_VARIABLE = "LLMETER_INGEST_TOKEN"
INGEST_PATH = "/v1/ingest"
MAX_RECORDS_PER_REQUEST = 1000
DEFAULT_MAX_BYTES_PER_REQUEST = 4 * 1024 * 1024
REJECTED_FOLDER = "rejected"
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class SendReport:
    """What one pass over the spool folder did.

    Attributes:
        files_sent: files delivered completely and deleted.
        files_kept: files left in place because a batch could not be delivered.
        records_accepted: records the endpoint accepted.
        records_rejected: records the endpoint rejected, now in the `rejected` folder.
        error: why the pass stopped early (for example an invalid token), or None.
    """

    files_sent: int = 0
    files_kept: int = 0
    records_accepted: int = 0
    records_rejected: int = 0
    error: str | None = None


class _DeliveryFailedError(Exception):
    """A batch was not delivered after the retries, so its file stays for the next pass."""


class _StopSendingError(Exception):
    """The endpoint rejected the token, so no further file is sent in this pass."""


@dataclass
class _BatchOutcome:
    accepted: int
    rejected: list[tuple[bytes, str]]


def _is_loopback(host: str | None) -> bool:
    if host in {None, "localhost"}:
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _ingest_url(endpoint_url: str) -> str:
    parts = urllib.parse.urlsplit(endpoint_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"endpoint_url must be an http or https URL, got {endpoint_url!r}")
    if parts.path in {"", "/"}:
        parts = parts._replace(path=INGEST_PATH)
    return urllib.parse.urlunsplit(parts)


class Sender:
    """Posts the closed spool files of a folder to the ingest endpoint.

    Args:
        endpoint_url: the endpoint, `https://host/v1/ingest`; a URL without a path gets
            `/v1/ingest`.
        token: the bearer token; by default LLMETER_INGEST_TOKEN.
        spool_dir: the folder to send; by default LLMETER_SPOOL_DIR or `data/call_logs`.
        max_records_per_request: records per request, at most 1,000 (the endpoint's limit).
        max_bytes_per_request: bytes per request; keep it below the endpoint's body limit
            (5 MiB by default).
        timeout_seconds: timeout of one request.
        max_attempts: attempts per batch before the file is left for the next pass.
        backoff_seconds: wait before the second attempt; it doubles each time, with jitter,
            up to `max_backoff_seconds`. A `Retry-After` response header sets it.

    Raises:
        ValueError: no token, an invalid URL, or limits out of range.
    """

    def __init__(
        self,
        endpoint_url: str,
        token: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        *,
        max_records_per_request: int = MAX_RECORDS_PER_REQUEST,
        max_bytes_per_request: int = DEFAULT_MAX_BYTES_PER_REQUEST,
        timeout_seconds: float = 30.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = _ingest_url(endpoint_url)
        token = token or os.environ.get(TOKEN_ENVIRONMENT_VARIABLE)
        if not token:
            raise ValueError(f"no token: pass token= or set {TOKEN_ENVIRONMENT_VARIABLE}")
        if not 1 <= max_records_per_request <= MAX_RECORDS_PER_REQUEST:
            raise ValueError(f"max_records_per_request must be 1 to {MAX_RECORDS_PER_REQUEST}")
        if max_attempts < 1 or max_bytes_per_request < 1:
            raise ValueError("max_attempts and max_bytes_per_request must be >= 1")
        self._token = token
        folder = spool_dir or os.environ.get(SPOOL_DIR_ENVIRONMENT_VARIABLE) or DEFAULT_SPOOL_DIR
        self.spool_dir = Path(folder).expanduser().absolute()
        self.max_records_per_request = max_records_per_request
        self.max_bytes_per_request = max_bytes_per_request
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._sleep = sleep

        # urllib.request is imported here, not at the top, because it takes about 20 ms to import
        # and most applications only record.
        import urllib.request

        host = urllib.parse.urlsplit(self.url).hostname
        # Loopback requests skip any proxy set in the environment; others use it.
        proxies: dict[str, str] | None = {} if _is_loopback(host) else None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies))
        if urllib.parse.urlsplit(self.url).scheme == "http" and not _is_loopback(host):
            logger.warning(
                "Sending call logs over plain http to %s: the bearer token is not encrypted; "
                "use https",
                host,
            )

    def pending_files(self) -> list[Path]:
        """Return the closed spool files, oldest name first."""
        if not self.spool_dir.is_dir():
            return []
        return sorted(
            path
            for path in self.spool_dir.iterdir()
            if path.name.endswith(SPOOL_SUFFIX) and path.is_file()
        )

    def send_pending(self) -> SendReport:
        """Send every closed spool file once, and delete each one that was delivered."""
        report = SendReport()
        for path in self.pending_files():
            try:
                self._send_file(path, report)
            except _DeliveryFailedError as error:
                report.files_kept += 1
                logger.warning("Kept %s for the next pass: %s", path.name, error)
            except _StopSendingError as error:
                report.files_kept += 1
                report.error = str(error)
                logger.error("Stopped sending call logs: %s", error)
                break
            except OSError as error:
                report.files_kept += 1
                logger.warning("Failed to read or delete %s: %s", path, error)
        logger.info(
            "Sent %d spool files (%d records accepted, %d rejected); %d files kept",
            report.files_sent,
            report.records_accepted,
            report.records_rejected,
            report.files_kept,
        )
        return report

    def run(self, interval_seconds: float = 30.0, stop: threading.Event | None = None) -> None:
        """Send pending files every `interval_seconds` until `stop` is set."""
        stop = stop or threading.Event()
        while not stop.is_set():
            self.send_pending()
            stop.wait(interval_seconds)

    def _batches(self, lines: list[bytes]) -> list[list[bytes]]:
        batches: list[list[bytes]] = []
        current: list[bytes] = []
        current_bytes = 0
        for line in lines:
            size = len(line) + 1
            if current and (
                len(current) >= self.max_records_per_request
                or current_bytes + size > self.max_bytes_per_request
            ):
                batches.append(current)
                current, current_bytes = [], 0
            current.append(line)
            current_bytes += size
        if current:
            batches.append(current)
        return batches

    def _send_file(self, path: Path, report: SendReport) -> None:
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        rejected: list[tuple[bytes, str]] = []
        accepted = 0
        for batch in self._batches(lines):
            outcome = self._deliver(batch)
            accepted += outcome.accepted
            rejected.extend(outcome.rejected)
        if rejected:
            self._keep_rejected(path.name, rejected)
        path.unlink()
        report.files_sent += 1
        report.records_accepted += accepted
        report.records_rejected += len(rejected)

    def _keep_rejected(self, file_name: str, rejected: list[tuple[bytes, str]]) -> None:
        folder = self.spool_dir / REJECTED_FOLDER
        folder.mkdir(exist_ok=True)
        with (folder / file_name).open("ab") as handle:
            handle.write(b"".join(line + b"\n" for line, _ in rejected))
        for _, reason in rejected[:3]:
            logger.warning("The endpoint rejected a record of %s: %s", file_name, reason)
        logger.warning(
            "The endpoint rejected %d records of %s; they are in %s",
            len(rejected),
            file_name,
            folder / file_name,
        )

    def _deliver(self, batch: list[bytes]) -> _BatchOutcome:
        """Post one batch with retries, and split it in two when the endpoint responds 413."""
        body = b"".join(line + b"\n" for line in batch)
        delay = self.backoff_seconds
        last_problem = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            status, headers, answer = self._post(body)
            if status is not None and 200 <= status < 300:
                return self._outcome(batch, answer)
            if status in {401, 403}:
                raise _StopSendingError(
                    f"the endpoint responded {status}: the token is missing or invalid"
                )
            if status == 413 and len(batch) > 1:
                middle = len(batch) // 2
                first, second = self._deliver(batch[:middle]), self._deliver(batch[middle:])
                return _BatchOutcome(
                    first.accepted + second.accepted, first.rejected + second.rejected
                )
            if status is not None and status not in _RETRYABLE_STATUSES:
                reason = _error_reason(answer) or f"HTTP {status}"
                return _BatchOutcome(0, [(line, reason) for line in batch])

            last_problem = f"HTTP {status}" if status is not None else answer.decode()
            if attempt == self.max_attempts:
                break
            retry_after = _retry_after(headers)
            if retry_after is not None:
                wait = min(retry_after, self.max_backoff_seconds)
            else:
                wait = random.uniform(delay / 2, delay)
            logger.info(
                "Retrying a batch of %d records in %.1f s (attempt %d of %d failed: %s)",
                len(batch),
                wait,
                attempt,
                self.max_attempts,
                last_problem,
            )
            self._sleep(wait)
            delay = min(delay * 2, self.max_backoff_seconds)
        raise _DeliveryFailedError(f"{self.max_attempts} attempts failed, last: {last_problem}")

    def _post(self, body: bytes) -> tuple[int | None, Any, bytes]:
        """POST a body and return (status, headers, body), or (None, None, error) when unsent."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/x-ndjson",
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout_seconds) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()
        except (urllib.error.URLError, OSError) as error:
            return None, None, f"{type(error).__name__}: {error}".encode()

    @staticmethod
    def _outcome(batch: list[bytes], answer: bytes) -> _BatchOutcome:
        try:
            result = json.loads(answer)
            accepted = int(result.get("accepted", len(batch)))
            rejections = result.get("rejected") or []
            rejected = [(batch[int(item["index"])], str(item["reason"])) for item in rejections]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            logger.warning(
                "The endpoint's 2xx response is not the expected JSON; the batch counts as accepted"
            )
            return _BatchOutcome(len(batch), [])
        return _BatchOutcome(accepted, rejected)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_reason(answer: bytes) -> str | None:
    try:
        reason = json.loads(answer).get("error")
    except (ValueError, AttributeError):
        return None
    return str(reason) if reason else None


def send_spool(
    endpoint_url: str,
    token: str | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> SendReport:
    """Send the closed spool files of a folder once; see `Sender` for the arguments."""
    return Sender(endpoint_url, token, spool_dir, **options).send_pending()
