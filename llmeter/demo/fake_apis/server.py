"""An in-process HTTP server on 127.0.0.1 that serves both fake provider Admin APIs.

OpenAI is served under `/openai/v1/...` and Anthropic under `/anthropic/v1/...`, so the
extractors' base URLs are `http://127.0.0.1:<port>/openai/v1` and
`http://127.0.0.1:<port>/anthropic/v1`. Fault switches let tests of the extractors inject rate
limits, server errors, restated buckets, broken pages and wrong amounts.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from llmeter.demo.fake_apis import anthropic_api, openai_api
from llmeter.demo.fake_apis.protocol import (
    ApiError,
    ApiRequest,
    ApiResponse,
    ServingState,
    dumps_exact,
)
from llmeter.demo.fake_apis.store import (
    PROVIDERS,
    RECORD_KINDS,
    Provider,
    ProviderDataStore,
    RecordKind,
    parse_day,
    to_decimal,
)

logger = logging.getLogger(__name__)

ADMIN_KEYS: dict[str, str] = {"openai": openai_api.ADMIN_KEY, "anthropic": anthropic_api.ADMIN_KEY}

_PROVIDER_MODULES: dict[str, ModuleType] = {"openai": openai_api, "anthropic": anthropic_api}
_REQUEST_ID_HEADERS = {"openai": "x-request-id", "anthropic": "request-id"}


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server received; headers (and so the keys) are never recorded.

    Attributes:
        provider: `openai`, `anthropic`, or None for a path under neither prefix.
        method: HTTP method.
        path: the full request path without the query (`/openai/v1/organization/costs`).
        query: the parsed query, each parameter with its values in order.
        status: the HTTP status sent.
    """

    provider: str | None
    method: str
    path: str
    query: dict[str, list[str]]
    status: int


@dataclass
class _Fault:
    """A pending fault that applies to the next `remaining` matching requests."""

    path_suffix: str | None
    remaining: int
    status: int = 0
    retry_after: int | None = None

    def matches(self, path: str) -> bool:
        return self.path_suffix is None or path.rstrip("/").endswith(self.path_suffix)


class _Faults:
    """The fault switches of one provider."""

    def __init__(self) -> None:
        self.failures: list[_Fault] = []
        self.truncations: list[_Fault] = []
        self.malformations: list[_Fault] = []
        self.amount_factor = Decimal(1)
        self.dropped_cost_days: set[dt.date] = set()


def _take(faults: list[_Fault], path: str) -> _Fault | None:
    """Return the first fault matching `path` and count it used (the caller holds the lock)."""
    for fault in faults:
        if fault.matches(path):
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.remove(fault)
            return fault
    return None


class FakeProviderServer:
    """Serve the OpenAI and Anthropic Admin APIs from a `ProviderDataStore` on 127.0.0.1.

    The server listens on an ephemeral port in a daemon thread from construction until `stop()`
    (or the end of a `with` block). Requests must carry the admin key of `admin_keys`.

    Args:
        store: the daily records to serve.
        now: the simulated current time, timezone-aware. OpenAI serves the bucket that contains
            it without data; Anthropic serves no bucket that ends after it.
    """

    def __init__(self, store: ProviderDataStore, now: dt.datetime) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._now = _as_utc(now)
        self._requests: list[LoggedRequest] = []
        self._faults: dict[str, _Faults] = {provider: _Faults() for provider in PROVIDERS}
        self._request_ids = itertools.count(1)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        # A short poll interval lets `stop()` return within about 50 ms.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-provider-apis",
            daemon=True,
        )
        self._thread.start()
        logger.info("Fake provider APIs listening on %s", self.base_url)

    @classmethod
    def from_demo_folder(cls, demo_folder: Path | str, now: dt.datetime) -> FakeProviderServer:
        """Start a server on the provider files of a demo folder (`<demo_folder>/provider/`)."""
        return cls(ProviderDataStore.from_folder(demo_folder), now)

    def __enter__(self) -> FakeProviderServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the server thread; safe to call twice."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=10)
        self._httpd.server_close()
        logger.info("Fake provider APIs stopped")

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL of the OpenAI API, ending in `/v1`."""
        return f"{self.base_url}/openai/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL of the Anthropic API, ending in `/v1`."""
        return f"{self.base_url}/anthropic/v1"

    @property
    def admin_keys(self) -> dict[str, str]:
        """The admin key each provider accepts, by provider name."""
        return dict(ADMIN_KEYS)

    @property
    def now(self) -> dt.datetime:
        """The simulated current time (UTC); assign to move it."""
        with self._lock:
            return self._now

    @now.setter
    def now(self, value: dt.datetime) -> None:
        with self._lock:
            self._now = _as_utc(value)

    @property
    def requests(self) -> list[LoggedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    # Fault switches. Each is thread-safe and applies from the next matching request on.

    def fail_next(
        self,
        provider: str,
        status: int = 429,
        times: int = 1,
        retry_after: int | None = 1,
        path_suffix: str | None = None,
    ) -> None:
        """Respond to the next `times` requests to `provider` with an error status.

        Args:
            provider: `openai` or `anthropic`.
            status: 429, 500, 503 (or 529 for Anthropic), sent in the provider's error shape.
            times: how many consecutive matching requests fail.
            retry_after: the `Retry-After` header in seconds; None sends none.
            path_suffix: fail only requests whose path ends with this (`/costs`); None for all.
        """
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        with self._lock:
            self._provider_faults(provider).failures.append(
                _Fault(path_suffix, times, status=status, retry_after=retry_after)
            )

    def restate(
        self,
        provider: str,
        kind: str,
        date: dt.date | str,
        records: Iterable[Mapping[str, Any]],
        endpoint: str | None = None,
    ) -> None:
        """Replace one day's usage or cost records, as a provider revising a bucket does.

        Args:
            provider: `openai` or `anthropic`.
            kind: `usage` or `costs`.
            date: the UTC day (`date` or `YYYY-MM-DD`).
            records: the day's new records in the store's file format; `date` may be left out.
                A revised bucket can have fewer or more rows than before.
            endpoint: for OpenAI usage, replace only this endpoint's records (`completions`).
        """
        if kind not in RECORD_KINDS:
            raise ValueError(f"kind must be one of {', '.join(RECORD_KINDS)}, got {kind!r}")
        self.store.replace_day(
            _check_provider(provider), _as_kind(kind), parse_day(date), records, endpoint
        )

    def truncate_next_page(self, provider: str, path_suffix: str | None = None) -> None:
        """Cut the body of the next successful response of `provider` in the middle."""
        with self._lock:
            self._provider_faults(provider).truncations.append(_Fault(path_suffix, 1))

    def malform_next_page(self, provider: str, path_suffix: str | None = None) -> None:
        """Send the next successful response of `provider` as valid JSON without its `data`."""
        with self._lock:
            self._provider_faults(provider).malformations.append(_Fault(path_suffix, 1))

    def scale_amounts(self, provider: str, factor: Decimal | int | str) -> None:
        """Multiply every cost amount `provider` serves by `factor` until reset (factor 1)."""
        with self._lock:
            self._provider_faults(provider).amount_factor = to_decimal(factor, "factor")

    def drop_cost_day(self, provider: str, date: dt.date | str) -> None:
        """Serve the cost bucket of one day without results until `reset_faults()`."""
        with self._lock:
            self._provider_faults(provider).dropped_cost_days.add(parse_day(date))

    def reset_faults(self) -> None:
        """Clear every pending fault and switch; restated records stay restated."""
        with self._lock:
            self._faults = {provider: _Faults() for provider in PROVIDERS}

    def _provider_faults(self, provider: str) -> _Faults:
        return self._faults[_check_provider(provider)]

    # Request handling, called by the handler thread of each request.

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request and return its status, headers and body."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        provider, _, rest = parts.path.lstrip("/").partition("/")
        if provider not in _PROVIDER_MODULES:
            body = dumps_exact({"error": {"message": f"No provider API at {parts.path}"}})
            self._log_request(None, method, parts.path, query, 404)
            return 404, {}, body.encode()

        module = _PROVIDER_MODULES[provider]
        request = ApiRequest(method=method, path="/" + rest, query=query, headers=headers)
        response_headers = {_REQUEST_ID_HEADERS[provider]: f"req_{next(self._request_ids):06d}"}
        try:
            module.authenticate(request)
            with self._lock:
                faults = self._faults[provider]
                failure = _take(faults.failures, request.path)
                state = ServingState(
                    store=self.store,
                    now=self._now,
                    amount_factor=faults.amount_factor,
                    dropped_cost_days=frozenset(faults.dropped_cost_days),
                )
            if failure is not None:
                error = module.error_for_status(failure.status)
                if failure.retry_after is not None:
                    error.headers["Retry-After"] = str(failure.retry_after)
                raise error
            response: ApiResponse = module.handle(request, state)
            body_text = dumps_exact(response.body)
        except ApiError as error:
            response = ApiResponse(error.status, module.render_error(error), error.headers)
            body_text = dumps_exact(response.body)
        except Exception:
            # A bug in the fake must reach the client as a 500 rather than a dropped connection.
            logger.exception("Fake %s API failed on %s %s", provider, method, parts.path)
            internal_error = module.error_for_status(500)
            response = ApiResponse(500, module.render_error(internal_error))
            body_text = dumps_exact(response.body)

        if response.status == 200:
            body_text = self._apply_page_faults(provider, request.path, response.body, body_text)
        response_headers.update(response.headers)
        self._log_request(provider, method, parts.path, query, response.status)
        return response.status, response_headers, body_text.encode()

    def _apply_page_faults(self, provider: str, path: str, body: Any, body_text: str) -> str:
        with self._lock:
            faults = self._faults[provider]
            truncation = _take(faults.truncations, path)
            malformation = _take(faults.malformations, path) if truncation is None else None
        if truncation is not None:
            logger.debug("Truncating the %s response of %s", provider, path)
            return body_text[: len(body_text) // 2]
        if malformation is not None and isinstance(body, dict):
            logger.debug("Sending the %s response of %s without data", provider, path)
            return dumps_exact({key: value for key, value in body.items() if key != "data"})
        return body_text

    def _log_request(
        self, provider: str | None, method: str, path: str, query: dict[str, list[str]], status: int
    ) -> None:
        page = query.get("page", [None])[0] or query.get("after_id", query.get("after", [None]))[0]
        logger.debug("%s %s page=%s -> %d", method, path, page or "first", status)
        with self._lock:
            self._requests.append(LoggedRequest(provider, method, path, query, status))


def _make_handler(server: FakeProviderServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            status, headers, body = server.handle(self.command, self.path, dict(self.headers))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = _serve
        do_POST = _serve
        do_PUT = _serve
        do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            # The base class writes every request to stderr; `FakeProviderServer` logs instead.
            pass

    return Handler


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(dt.UTC)


def _check_provider(provider: str) -> Provider:
    if provider == "openai":
        return "openai"
    if provider == "anthropic":
        return "anthropic"
    raise ValueError(f"provider must be openai or anthropic, got {provider!r}")


def _as_kind(kind: str) -> RecordKind:
    return "usage" if kind == "usage" else "costs"
