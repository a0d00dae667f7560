"""Provider detection and normalization of a response's usage into the canonical token classes.

Canonical classes (LLMeter's docs/vocabulary.md):

- OpenAI (Chat Completions and Responses): the prompt or input count includes cached tokens and
  cache writes, so uncached input = prompt - cached - cache writes; cache writes count as
  5-minute writes; the completion or output count includes reasoning tokens.
- Anthropic Messages: `input_tokens` excludes cache reads and writes. Writes are split by
  `cache_creation.ephemeral_5m_input_tokens` and `ephemeral_1h_input_tokens`. A response
  without that split counts `cache_creation_input_tokens` as 5-minute writes.
- Gemini: `promptTokenCount` includes `cachedContentTokenCount`; `candidatesTokenCount` excludes
  `thoughtsTokenCount`, so billed output = candidates + thoughts.

Only usage and identifying fields are read; message content is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PROVIDERS = ("openai", "anthropic", "google")

SHAPE_OPENAI_CHAT = "openai_chat"
SHAPE_OPENAI_RESPONSES = "openai_responses"
SHAPE_ANTHROPIC = "anthropic_messages"
SHAPE_GEMINI = "gemini"

_PROVIDER_OF_SHAPE = {
    SHAPE_OPENAI_CHAT: "openai",
    SHAPE_OPENAI_RESPONSES: "openai",
    SHAPE_ANTHROPIC: "anthropic",
    SHAPE_GEMINI: "google",
}
# Attributes whose presence shows that fields can be read with getattr.
_PROBE_ATTRIBUTES = (
    "usage",
    "usage_metadata",
    "usageMetadata",
    "object",
    "type",
    "model",
    "custom_id",
    "candidates",
)
_GEMINI_MARKERS = (
    "usage_metadata",
    "usageMetadata",
    "candidates",
    "model_version",
    "modelVersion",
)


class UnrecognizedResponseError(ValueError):
    """The object is not a response of a supported API, or `provider` is not a known name."""


class MissingUsageError(ValueError):
    """The response carries no usage, as after an interrupted stream or a failed batch request.

    Attributes:
        provider: the provider the response shape points to.
    """

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(message)
        self.provider = provider


class InvalidUsageError(ValueError):
    """A usage field is not a non-negative integer, or the counts contradict each other."""


@dataclass(frozen=True)
class CallUsage:
    """The provider, identifiers and canonical token counts of one call."""

    provider: str
    model: str | None
    request_id: str | None
    service_tier: str | None
    is_batch: bool
    input_uncached_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    web_search_requests: int = 0

    def token_counts(self) -> dict[str, int]:
        """Return the seven token-class columns of the record format."""
        return {
            "input_uncached_tokens": self.input_uncached_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_5m_tokens": self.cache_write_5m_tokens,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "web_search_requests": self.web_search_requests,
        }


# type -> whether it is a Mapping; cached because isinstance against an ABC is slow on the
# record() path, which reads a dozen fields per response.
_MAPPING_TYPES: dict[type, bool] = {dict: True}


def _is_mapping(source: Any) -> bool:
    kind = type(source)
    known = _MAPPING_TYPES.get(kind)
    if known is None:
        known = _MAPPING_TYPES[kind] = isinstance(source, Mapping)
    return known


def field(source: Any, name: str) -> Any:
    """Read `name` from a mapping or an object's attribute; None when absent."""
    if source is None:
        return None
    if _is_mapping(source):
        return source.get(name)
    return getattr(source, name, None)


def first_field(source: Any, *names: str) -> Any:
    """Read the first of `names` that is present and not None (snake_case or camelCase)."""
    for name in names:
        value = field(source, name)
        if value is not None:
            return value
    return None


def has_field(source: Any, name: str) -> bool:
    """Tell whether `source` declares `name`, even with a None value."""
    if source is None:
        return False
    if _is_mapping(source):
        return name in source
    return hasattr(source, name)


def accessible(response: Any) -> Any:
    """Return `response` in a form that `field` can read.

    Mappings and objects with response attributes (pydantic models of the provider packages) are
    read as they are. JSON text is decoded, and other objects are converted with `model_dump()`
    or `to_dict()`.

    Raises:
        UnrecognizedResponseError: the response is text but not JSON.
    """
    if response is None or _is_mapping(response):
        return response
    if isinstance(response, str | bytes | bytearray):
        try:
            return json.loads(response)
        except ValueError as error:
            raise UnrecognizedResponseError(f"the response text is not JSON: {error}") from error
    if any(hasattr(response, name) for name in _PROBE_ATTRIBUTES):
        return response
    for converter in ("model_dump", "to_dict"):
        method = getattr(response, converter, None)
        if callable(method):
            return method()
    return response


def count(source: Any, *names: str) -> int:
    """Read a token count (the first present of `names`); absent or None counts as 0.

    Raises:
        InvalidUsageError: the value is not a non-negative integer.
    """
    value = first_field(source, *names)
    if value is None:
        return 0
    if isinstance(value, bool):
        raise InvalidUsageError(f"usage field {names[0]} is a boolean, not a token count")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise InvalidUsageError(
            f"usage field {names[0]} is {type(value).__name__}, not an integer token count"
        )
    if value < 0:
        raise InvalidUsageError(f"usage field {names[0]} is negative")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def unwrap(response: Any) -> tuple[Any, bool]:
    """Return the response inside a batch result line or a Responses API stream event.

    Returns:
        The inner response (None when a batch request failed) and whether it came from a batch
        result line (OpenAI batch output or Anthropic Message Batches results).
    """
    if field(response, "custom_id") is not None:
        openai_result = field(response, "response")
        if openai_result is not None or has_field(response, "error"):
            return accessible(field(openai_result, "body")), True
        anthropic_result = field(response, "result")
        return accessible(field(anthropic_result, "message")), True
    event_type = field(response, "type")
    if isinstance(event_type, str) and event_type.startswith("response."):
        inner = field(response, "response")
        if inner is not None:
            return accessible(inner), False
    return response, False


def detect_shape(response: Any) -> str | None:
    """Name the API whose response shape `response` has, or None when none matches."""
    object_type = field(response, "object")
    if object_type in {"chat.completion", "chat.completion.chunk"}:
        return SHAPE_OPENAI_CHAT
    if object_type == "response":
        return SHAPE_OPENAI_RESPONSES
    if field(response, "type") == "message":
        return SHAPE_ANTHROPIC
    if any(has_field(response, name) for name in _GEMINI_MARKERS):
        return SHAPE_GEMINI

    usage = field(response, "usage")
    if usage is None:
        return None
    if has_field(usage, "prompt_tokens"):
        return SHAPE_OPENAI_CHAT
    if has_field(usage, "input_tokens_details"):
        return SHAPE_OPENAI_RESPONSES
    if any(
        has_field(usage, name)
        for name in ("cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation")
    ):
        return SHAPE_ANTHROPIC
    return None


def _openai_chat_counts(usage: Any) -> dict[str, int]:
    prompt = count(usage, "prompt_tokens")
    details = field(usage, "prompt_tokens_details")
    cached = count(details, "cached_tokens")
    cache_write = count(details, "cache_write_tokens")
    if cached + cache_write > prompt:
        raise InvalidUsageError(
            f"cached_tokens {cached} plus cache_write_tokens {cache_write} exceed "
            f"prompt_tokens {prompt}"
        )
    return {
        "input_uncached_tokens": prompt - cached - cache_write,
        "cache_read_tokens": cached,
        "cache_write_5m_tokens": cache_write,
        "output_tokens": count(usage, "completion_tokens"),
        "reasoning_tokens": count(field(usage, "completion_tokens_details"), "reasoning_tokens"),
    }


def _openai_responses_counts(response: Any, usage: Any) -> dict[str, int]:
    total_input = count(usage, "input_tokens")
    details = field(usage, "input_tokens_details")
    cached = count(details, "cached_tokens")
    cache_write = count(details, "cache_write_tokens")
    if cached + cache_write > total_input:
        raise InvalidUsageError(
            f"cached_tokens {cached} plus cache_write_tokens {cache_write} exceed "
            f"input_tokens {total_input}"
        )
    # Each web search the model ran is an output item of type web_search_call, billed per call.
    # Only the item types are read here.
    web_searches = sum(
        1 for item in field(response, "output") or () if field(item, "type") == "web_search_call"
    )
    return {
        "input_uncached_tokens": total_input - cached - cache_write,
        "cache_read_tokens": cached,
        "cache_write_5m_tokens": cache_write,
        "output_tokens": count(usage, "output_tokens"),
        "reasoning_tokens": count(field(usage, "output_tokens_details"), "reasoning_tokens"),
        "web_search_requests": web_searches,
    }


def anthropic_counts(usage: Any) -> dict[str, int]:
    """Normalize an Anthropic Messages `usage` object or a merged stream usage mapping."""
    breakdown = field(usage, "cache_creation")
    total_write = count(usage, "cache_creation_input_tokens")
    if breakdown is None:
        write_5m, write_1h = total_write, 0
    else:
        write_5m = count(breakdown, "ephemeral_5m_input_tokens")
        write_1h = count(breakdown, "ephemeral_1h_input_tokens")
        # A total above the split has no time-to-live; it is priced as 5-minute writes, the
        # default time-to-live of Anthropic's prompt cache.
        write_5m += max(0, total_write - write_5m - write_1h)
    return {
        "input_uncached_tokens": count(usage, "input_tokens"),
        "cache_read_tokens": count(usage, "cache_read_input_tokens"),
        "cache_write_5m_tokens": write_5m,
        "cache_write_1h_tokens": write_1h,
        "output_tokens": count(usage, "output_tokens"),
        "reasoning_tokens": count(field(usage, "output_tokens_details"), "thinking_tokens"),
        "web_search_requests": count(field(usage, "server_tool_use"), "web_search_requests"),
    }


def _gemini_counts(metadata: Any) -> dict[str, int]:
    prompt = count(metadata, "prompt_token_count", "promptTokenCount")
    cached = count(metadata, "cached_content_token_count", "cachedContentTokenCount")
    candidates = count(metadata, "candidates_token_count", "candidatesTokenCount")
    thoughts = count(metadata, "thoughts_token_count", "thoughtsTokenCount")
    if cached > prompt:
        raise InvalidUsageError(
            f"cachedContentTokenCount {cached} exceeds promptTokenCount {prompt}"
        )
    # NOTE: toolUsePromptTokenCount (tokens of tool results fed back to the model) is not part
    # of promptTokenCount and is left out, following the Gemini row of the shared vocabulary.
    return {
        "input_uncached_tokens": prompt - cached,
        "cache_read_tokens": cached,
        "output_tokens": candidates + thoughts,
        "reasoning_tokens": thoughts,
    }


def extract_usage(response: Any, provider: str | None = None) -> CallUsage:
    """Read the provider, identifiers and canonical token counts of one response.

    Args:
        response: a response of the OpenAI Chat Completions or Responses API, the Anthropic
            Messages API or the Gemini API, as a provider package's object, a mapping or JSON
            text. OpenAI and Anthropic batch result lines and Responses API `response.completed`
            events are read too.
        provider: the provider name, for a response whose shape belongs to another provider's
            API (an OpenAI-compatible endpoint); by default taken from the shape.

    Raises:
        UnrecognizedResponseError: the shape is none of the supported APIs, or `provider` is not
            a known name.
        MissingUsageError: the response has no usage.
        InvalidUsageError: a usage field is invalid.
    """
    if provider is not None and provider not in PROVIDERS:
        raise UnrecognizedResponseError(
            f"provider {provider!r} is not one of {', '.join(PROVIDERS)}"
        )
    response = accessible(response)
    from_batch = False
    shape = detect_shape(response)
    if shape is None:
        response, from_batch = unwrap(response)
        if response is None and from_batch:
            raise MissingUsageError(provider or "unknown", "the batch request failed")
        shape = detect_shape(response)
    if shape is None:
        raise UnrecognizedResponseError(
            f"{type(response).__name__} is not a response of the OpenAI, Anthropic or Gemini API"
        )
    provider = provider or _PROVIDER_OF_SHAPE[shape]

    if shape == SHAPE_GEMINI:
        metadata = first_field(response, "usage_metadata", "usageMetadata")
        if metadata is None:
            raise MissingUsageError(provider, "the response has no usage metadata")
        return CallUsage(
            provider=provider,
            model=_text(first_field(response, "model_version", "modelVersion")),
            request_id=_text(first_field(response, "response_id", "responseId")),
            service_tier=None,
            is_batch=from_batch,
            **_gemini_counts(metadata),
        )

    usage = field(response, "usage")
    if usage is None:
        raise MissingUsageError(provider, "the response has no usage")
    if shape == SHAPE_OPENAI_CHAT:
        counts = _openai_chat_counts(usage)
        service_tier = _text(field(response, "service_tier"))
    elif shape == SHAPE_OPENAI_RESPONSES:
        counts = _openai_responses_counts(response, usage)
        service_tier = _text(field(response, "service_tier"))
    else:
        counts = anthropic_counts(usage)
        service_tier = _text(field(usage, "service_tier"))
    return CallUsage(
        provider=provider,
        model=_text(field(response, "model")),
        request_id=_text(field(response, "id")),
        service_tier=service_tier,
        is_batch=from_batch or service_tier == "batch",
        **counts,
    )
