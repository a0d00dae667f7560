"""Usage of streamed responses: accumulate the events, record once at the end.

Each API reports a stream's usage differently:

- OpenAI Chat Completions: the final chunk carries `usage` (only with
  `stream_options={"include_usage": True}`); every other chunk has `usage: null`.
- OpenAI Responses: the `response.completed` event (or `response.incomplete`) carries the
  response with its usage.
- Anthropic Messages: `message_start` carries the input and cache counts, and each
  `message_delta` carries cumulative counts (`output_tokens` always, the others when not null).
  The last value of each field wins; deltas are never summed.
- Gemini: each chunk may carry `usageMetadata`. The last one has the totals, and the chunk
  whose candidate has a `finishReason` ends the stream.

A stream that ends before its final usage (interrupted, or without `include_usage`) is counted
as `missing_usage` and not recorded.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable, Mapping
from typing import Any, TypeVar

from llmeter_sdk._context import Attribution, current_attribution
from llmeter_sdk._recorder import default_recorder
from llmeter_sdk._usage import (
    SHAPE_ANTHROPIC,
    SHAPE_GEMINI,
    SHAPE_OPENAI_CHAT,
    SHAPE_OPENAI_RESPONSES,
    CallUsage,
    MissingUsageError,
    UnrecognizedResponseError,
    accessible,
    extract_usage,
    field,
    first_field,
    has_field,
)

_Event = TypeVar("_Event")

_ANTHROPIC_SCALAR_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "service_tier",
)
_PROVIDER_OF_SHAPE = {
    SHAPE_OPENAI_CHAT: "openai",
    SHAPE_OPENAI_RESPONSES: "openai",
    SHAPE_ANTHROPIC: "anthropic",
    SHAPE_GEMINI: "google",
}


class StreamUsage:
    """Accumulates the usage of one streamed response from its events or chunks.

    Call `observe(event)` for every event, then `record(...)` once the stream has ended.
    `observe` takes the provider packages' event objects or their JSON as mappings, and never
    raises.

    Example:
        usage = llmeter_sdk.StreamUsage()
        for chunk in client.chat.completions.create(..., stream=True,
                                                     stream_options={"include_usage": True}):
            usage.observe(chunk)
        usage.record(customer_id="acme")
    """

    def __init__(self, provider: str | None = None) -> None:
        self.provider = provider
        self.events = 0
        self._shape: str | None = None
        self._model: str | None = None
        self._response_id: str | None = None
        self._service_tier: str | None = None
        self._usage: Any = None
        self._final_response: Any = None
        self._anthropic_usage: dict[str, Any] = {}
        self._anthropic_complete = False
        self._gemini_complete = False
        self._observe_failed: Exception | None = None

    def observe(self, event: Any) -> None:
        """Take the identifiers and usage that `event` carries."""
        self.events += 1
        try:
            self._observe(accessible(event))
        except Exception as error:
            self._observe_failed = error

    def _remember_identifiers(self, source: Any, *model_names: str) -> None:
        model = first_field(source, *model_names)
        if isinstance(model, str):
            self._model = model
        response_id = first_field(source, "id", "response_id", "responseId")
        if isinstance(response_id, str):
            self._response_id = response_id
        service_tier = field(source, "service_tier")
        if isinstance(service_tier, str):
            self._service_tier = service_tier

    def _observe(self, event: Any) -> None:
        event_type = field(event, "type")
        if field(event, "object") == "chat.completion.chunk":
            self._shape = SHAPE_OPENAI_CHAT
            self._remember_identifiers(event, "model")
            usage = field(event, "usage")
            if usage is not None:
                self._usage = usage
        elif isinstance(event_type, str) and event_type.startswith("response."):
            response = field(event, "response")
            if response is not None:
                self._shape = SHAPE_OPENAI_RESPONSES
                if field(response, "usage") is not None:
                    self._final_response = response
        elif event_type == "message_start":
            self._shape = SHAPE_ANTHROPIC
            message = field(event, "message")
            self._remember_identifiers(message, "model")
            self._merge_anthropic_usage(field(message, "usage"))
        elif event_type == "message_delta":
            self._shape = SHAPE_ANTHROPIC
            self._merge_anthropic_usage(field(event, "usage"))
            self._anthropic_complete = True
        elif any(
            has_field(event, name)
            for name in ("usage_metadata", "usageMetadata", "candidates", "modelVersion")
        ):
            self._shape = SHAPE_GEMINI
            self._remember_identifiers(event, "model_version", "modelVersion")
            metadata = first_field(event, "usage_metadata", "usageMetadata")
            if metadata is not None:
                self._usage = metadata
            for candidate in field(event, "candidates") or ():
                if first_field(candidate, "finish_reason", "finishReason") is not None:
                    self._gemini_complete = True
        elif field(event, "usage") is not None:
            # A complete response passed as the last item, such as an Anthropic final message.
            self._final_response = event

    def _merge_anthropic_usage(self, usage: Any) -> None:
        if usage is None:
            return
        merged = self._anthropic_usage
        for name in _ANTHROPIC_SCALAR_FIELDS:
            value = field(usage, name)
            if value is not None:
                merged[name] = value
        breakdown = field(usage, "cache_creation")
        if breakdown is not None:
            merged["cache_creation"] = {
                "ephemeral_5m_input_tokens": field(breakdown, "ephemeral_5m_input_tokens"),
                "ephemeral_1h_input_tokens": field(breakdown, "ephemeral_1h_input_tokens"),
            }
        thinking = field(field(usage, "output_tokens_details"), "thinking_tokens")
        if thinking is not None:
            merged["output_tokens_details"] = {"thinking_tokens": thinking}
        web_searches = field(field(usage, "server_tool_use"), "web_search_requests")
        if web_searches is not None:
            merged["server_tool_use"] = {"web_search_requests": web_searches}

    def usage(self) -> CallUsage:
        """Return the stream's final usage.

        Raises:
            MissingUsageError: the stream ended before its final usage.
            UnrecognizedResponseError: no event had the shape of a supported API.
        """
        if self._observe_failed is not None:
            raise UnrecognizedResponseError(
                f"a stream event could not be read: {self._observe_failed}"
            )
        if self._final_response is not None:
            return extract_usage(self._final_response, self.provider)
        if self._shape is None:
            if self.events == 0:
                raise MissingUsageError(self.provider or "unknown", "the stream had no events")
            raise UnrecognizedResponseError(
                "no stream event had the shape of an OpenAI, Anthropic or Gemini stream"
            )
        provider = self.provider or _PROVIDER_OF_SHAPE[self._shape]
        response: Mapping[str, Any]
        if self._shape == SHAPE_OPENAI_CHAT:
            response = {
                "object": "chat.completion",
                "model": self._model,
                "id": self._response_id,
                "service_tier": self._service_tier,
                "usage": self._usage,
            }
        elif self._shape == SHAPE_ANTHROPIC:
            if not self._anthropic_complete:
                raise MissingUsageError(provider, "the stream ended before its message_delta")
            response = {
                "type": "message",
                "model": self._model,
                "id": self._response_id,
                "usage": self._anthropic_usage,
            }
        elif self._shape == SHAPE_GEMINI:
            if not self._gemini_complete:
                raise MissingUsageError(provider, "the stream ended before a finish reason")
            response = {
                "modelVersion": self._model,
                "responseId": self._response_id,
                "usageMetadata": self._usage,
            }
        else:
            raise MissingUsageError(provider, "the stream ended before response.completed")
        return extract_usage(response, provider)

    def record(
        self,
        customer_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        *,
        is_batch: bool | None = None,
        **extra: Any,
    ) -> None:
        """Record the stream's usage like `llmeter_sdk.record`; never raises."""
        self._record(None, customer_id, tags, is_batch, extra)

    def _record(
        self,
        attribution: Attribution | None,
        customer_id: str | None,
        tags: Mapping[str, str] | None,
        is_batch: bool | None,
        extra: Mapping[str, Any],
    ) -> None:
        default_recorder().record(self.usage, customer_id, tags, is_batch, extra, attribution)


def record_stream(
    events: Iterable[_Event],
    customer_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    *,
    provider: str | None = None,
    is_batch: bool | None = None,
    **extra: Any,
) -> Generator[_Event, None, None]:
    """Pass a stream's events through unchanged and record its usage when it ends.

    The customer scope in effect at this call is used, even if the stream is consumed elsewhere.
    The record is made when the stream is exhausted, raises, or is closed early; an early end
    without final usage is counted as `missing_usage`.

    Example:
        stream = client.chat.completions.create(
            ..., stream=True, stream_options={"include_usage": True}
        )
        for chunk in llmeter_sdk.record_stream(stream, customer_id="acme"):
            ...
    """
    accumulator = StreamUsage(provider)
    attribution = current_attribution()

    def pass_through() -> Generator[_Event, None, None]:
        try:
            for event in events:
                accumulator.observe(event)
                yield event
        finally:
            accumulator._record(attribution, customer_id, tags, is_batch, extra)

    return pass_through()


def arecord_stream(
    events: AsyncIterable[_Event],
    customer_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    *,
    provider: str | None = None,
    is_batch: bool | None = None,
    **extra: Any,
) -> AsyncGenerator[_Event, None]:
    """Pass an async stream's events through and record its usage, like `record_stream`."""
    accumulator = StreamUsage(provider)
    attribution = current_attribution()

    async def pass_through() -> AsyncGenerator[_Event, None]:
        try:
            async for event in events:
                accumulator.observe(event)
                yield event
        finally:
            accumulator._record(attribution, customer_id, tags, is_batch, extra)

    return pass_through()
