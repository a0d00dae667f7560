"""HTTP GET requests to a provider Admin API: retries, timeouts, exact JSON, clear errors.

Every request logs its endpoint and page at DEBUG and every retry with its reason at WARNING.
Keys travel only in the session headers, which are never logged or put in a message.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from llmeter import __version__

logger = logging.getLogger(__name__)

# Statuses worth another attempt: timeouts, rate limits, server errors and Anthropic's 529
# (overloaded).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
AUTH_STATUSES = frozenset({401, 403})


class AdminApiError(RuntimeError):
    """Raised when a provider Admin API request fails; the message names endpoint and page."""


class AdminKeyRejectedError(AdminApiError):
    """Raised on HTTP 401 or 403: the key is missing, invalid or not an admin key."""


class MalformedPageError(AdminApiError):
    """Raised for a response that is not the documented JSON shape."""


@dataclass(frozen=True)
class ProviderInfo:
    """The names a provider's messages and settings use."""

    name: str
    title: str
    admin_key_hint: str

    @property
    def key_setting(self) -> str:
        """The environment variables that set the admin key, in lookup order."""
        return f"SOURCES__{self.name.upper()}__ADMIN_KEY or {self.name.upper()}_ADMIN_KEY"


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts and retries of every request to one provider.

    Attributes:
        timeout_seconds: connect and read timeout of one request.
        max_retries: retries after the first attempt, for 429, 5xx, timeouts and connection
            errors.
        max_wait_seconds: the total time all waits between retries of one request may take.
        backoff_seconds: the first wait when the response has no `Retry-After`; it doubles
            with each retry, up to 60 seconds.
    """

    timeout_seconds: float = 60.0
    max_retries: int = 5
    max_wait_seconds: float = 300.0
    backoff_seconds: float = 1.0


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Parse a `Retry-After` header (seconds or an HTTP date); None when absent or invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - (now or dt.datetime.now(dt.UTC))).total_seconds())


class AdminApiClient:
    """GET requests to one provider's Admin API, with retries, parsed with exact decimals.

    Args:
        provider: the provider's names, for messages.
        base_url: the API root, ending in `/v1`.
        headers: authentication and version headers; never logged.
        policy: timeouts and retries.
    """

    def __init__(
        self,
        provider: ProviderInfo,
        base_url: str,
        headers: Mapping[str, str],
        policy: RetryPolicy,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.session = requests.Session()
        self.session.headers.update(headers)
        self.session.headers["User-Agent"] = f"llmeter/{__version__}"

    def get_json(self, path: str, params: Mapping[str, Any], page_number: int) -> dict[str, Any]:
        """GET `path` with `params` and return the JSON object, floats parsed as Decimal.

        Retries 429, 5xx, timeouts and connection errors with exponential backoff that honours
        `Retry-After`, within `policy.max_retries` and `policy.max_wait_seconds`.

        Raises:
            AdminKeyRejectedError: HTTP 401 or 403.
            MalformedPageError: the body is not a JSON object.
            AdminApiError: another error status, or retries ran out.
        """
        url = self.base_url + path
        where = f"{self.provider.title} {path} page {page_number}"
        waited = 0.0
        attempt = 0
        while True:
            logger.debug("GET %s page %d", path, page_number)
            reason: str
            wait: float | None = None
            try:
                response = self.session.get(url, params=params, timeout=self.policy.timeout_seconds)
            except requests.Timeout:
                reason = f"no response within {self.policy.timeout_seconds:g} s"
            except requests.ConnectionError as error:
                reason = f"connection failed ({type(error).__name__})"
            else:
                if response.status_code == 200:
                    return self._parse(response, where)
                if response.status_code in AUTH_STATUSES:
                    raise AdminKeyRejectedError(
                        f"{where}: HTTP {response.status_code}, the key was rejected. The usage "
                        f"and cost endpoints need an organization admin key "
                        f"({self.provider.admin_key_hint}); set {self.provider.key_setting}."
                    )
                if response.status_code not in RETRY_STATUSES:
                    raise AdminApiError(
                        f"{where}: HTTP {response.status_code}: {_error_message(response)}"
                    )
                reason = f"HTTP {response.status_code}"
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is not None:
                    reason += f" with Retry-After {wait:g} s"

            if wait is None:
                wait = min(60.0, self.policy.backoff_seconds * 2**attempt)
            if attempt >= self.policy.max_retries:
                raise AdminApiError(
                    f"{where}: {reason}; gave up after {attempt + 1} attempts. Run again later."
                )
            if waited + wait > self.policy.max_wait_seconds:
                raise AdminApiError(
                    f"{where}: {reason}; waiting {wait:g} s more would exceed the retry budget "
                    f"of {self.policy.max_wait_seconds:g} s. Run again later."
                )
            attempt += 1
            logger.warning(
                "%s: %s; retry %d of %d in %.1f s",
                where,
                reason,
                attempt,
                self.policy.max_retries,
                wait,
            )
            time.sleep(wait)
            waited += wait

    def _parse(self, response: requests.Response, where: str) -> dict[str, Any]:
        try:
            body = json.loads(response.content.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MalformedPageError(f"{where}: the body is not valid JSON ({error})") from None
        if not isinstance(body, dict):
            raise MalformedPageError(f"{where}: the body is not a JSON object")
        return body


def _error_message(response: requests.Response) -> str:
    """Return the provider's error message from an error body, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return response.text[:200]
