"""Streamed responses: StreamUsage, record_stream and arecord_stream write the final usage once.

The events are the openai and anthropic packages' own stream event types, and Gemini chunks as
the API's JSON. Records are read back from the spool files the SDK wrote.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import llmeter_sdk
import pytest
from anthropic.types import (
    RawContentBlockDeltaEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
)
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseTextDeltaEvent,
)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "spool"
    llmeter_sdk.configure(folder)
    yield folder
    llmeter_sdk.close()


def spooled_records(folder: Path) -> list[dict[str, Any]]:
    assert llmeter_sdk.flush()
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def counter_change(before: dict[str, int], name: str) -> int:
    return llmeter_sdk.stats()[name] - before[name]


def openai_chunks(with_usage: bool) -> list[ChatCompletionChunk]:
    base = {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": 1793534400,
        "model": "gpt-5-mini-2025-08-07",
        "service_tier": "flex",
    }
    chunks = [
        ChatCompletionChunk.model_validate(
            {
                **base,
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
                "usage": None,
            }
        )
        for text in ("Hel", "lo")
    ]
    if with_usage:
        chunks.append(
            ChatCompletionChunk.model_validate(
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 2006,
                        "completion_tokens": 300,
                        "total_tokens": 2306,
                        "prompt_tokens_details": {"cached_tokens": 1920},
                        "completion_tokens_details": {"reasoning_tokens": 128},
                    },
                }
            )
        )
    return chunks


def anthropic_events(deltas: list[dict[str, Any]]) -> list[Any]:
    start = RawMessageStartEvent.model_validate(
        {
            "type": "message_start",
            "message": {
                "id": "msg_stream1",
                "type": "message",
                "role": "assistant",
                "model": "claude-opus-4-1-20250805",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 248,
                    "cache_creation_input_tokens": 1200,
                    "cache_read_input_tokens": 18000,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": 1200,
                        "ephemeral_1h_input_tokens": 0,
                    },
                    "output_tokens": 1,
                    "service_tier": "standard",
                },
            },
        }
    )
    text = RawContentBlockDeltaEvent.model_validate(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
    )
    message_deltas = [
        RawMessageDeltaEvent.model_validate(
            {
                "type": "message_delta",
                "delta": {"stop_reason": None, "stop_sequence": None},
                "usage": usage,
            }
        )
        for usage in deltas
    ]
    stop = RawMessageStopEvent.model_validate({"type": "message_stop"})
    return [start, text, *message_deltas, stop] if deltas else [start, text]


def responses_events(completed: bool) -> list[Any]:
    response = {
        "id": "resp_stream1",
        "object": "response",
        "created_at": 1793534400,
        "model": "gpt-5-2025-08-07",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "status": "in_progress",
    }
    events: list[Any] = [
        ResponseCreatedEvent.model_validate(
            {"type": "response.created", "sequence_number": 0, "response": response}
        ),
        ResponseTextDeltaEvent.model_validate(
            {
                "type": "response.output_text.delta",
                "sequence_number": 1,
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": "Hi",
                "logprobs": [],
            }
        ),
    ]
    if completed:
        events.append(
            ResponseCompletedEvent.model_validate(
                {
                    "type": "response.completed",
                    "sequence_number": 2,
                    "response": {
                        **response,
                        "status": "completed",
                        "usage": {
                            "input_tokens": 1553,
                            "input_tokens_details": {
                                "cached_tokens": 1408,
                                "cache_write_tokens": 0,
                            },
                            "output_tokens": 28,
                            "output_tokens_details": {"reasoning_tokens": 4},
                            "total_tokens": 1581,
                        },
                    },
                }
            )
        )
    return events


def gemini_chunks(finished: bool) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = [
        {
            "candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}}],
            "usageMetadata": {"promptTokenCount": 1000, "cachedContentTokenCount": 600},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "gemini-stream1",
        },
    ]
    if finished:
        chunks.append(
            {
                "candidates": [
                    {
                        "content": {"parts": [{"text": "lo"}], "role": "model"},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 1000,
                    "cachedContentTokenCount": 600,
                    "candidatesTokenCount": 200,
                    "thoughtsTokenCount": 50,
                    "totalTokenCount": 1250,
                },
                "modelVersion": "gemini-2.5-flash",
                "responseId": "gemini-stream1",
            }
        )
    return chunks


def test_openai_chat_stream_final_usage(spool: Path) -> None:
    passed = list(llmeter_sdk.record_stream(openai_chunks(with_usage=True), customer_id="acme"))

    records = spooled_records(spool)
    assert len(passed) == 3
    assert len(records) == 1
    assert records[0]["input_uncached_tokens"] == 86
    assert records[0]["cache_read_tokens"] == 1920
    assert records[0]["output_tokens"] == 300
    assert records[0]["reasoning_tokens"] == 128
    assert records[0]["service_tier"] == "flex"
    assert records[0]["request_id"] == "chatcmpl-stream1"


def test_openai_chat_stream_without_usage(spool: Path) -> None:
    before = llmeter_sdk.stats()

    for _ in llmeter_sdk.record_stream(openai_chunks(with_usage=False), customer_id="acme"):
        pass

    assert spooled_records(spool) == []
    assert counter_change(before, "missing_usage") == 1
    assert counter_change(before, "recorded") == 0


def test_anthropic_stream_takes_last_cumulative_usage(spool: Path) -> None:
    # Two message_delta events with cumulative output_tokens 300, then 503: the record has 503,
    # not 300 + 503, and the input and cache counts come from message_start.
    usage = llmeter_sdk.StreamUsage()
    for event in anthropic_events([{"output_tokens": 300}, {"output_tokens": 503}]):
        usage.observe(event)
    usage.record(customer_id="acme")

    records = spooled_records(spool)
    assert len(records) == 1
    assert records[0]["output_tokens"] == 503
    assert records[0]["input_uncached_tokens"] == 248
    assert records[0]["cache_read_tokens"] == 18000
    assert records[0]["cache_write_5m_tokens"] == 1200
    assert records[0]["model"] == "claude-opus-4-1-20250805"
    assert records[0]["request_id"] == "msg_stream1"


def test_anthropic_delta_repeats_input_counts(spool: Path) -> None:
    # A message_delta that repeats the cumulative input and cache counts replaces them.
    delta = {
        "output_tokens": 40,
        "input_tokens": 250,
        "cache_read_input_tokens": 18000,
        "cache_creation_input_tokens": 1200,
        "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0},
    }
    for _ in llmeter_sdk.record_stream(anthropic_events([delta]), customer_id="acme"):
        pass

    records = spooled_records(spool)
    assert records[0]["input_uncached_tokens"] == 250
    assert records[0]["cache_read_tokens"] == 18000
    assert records[0]["output_tokens"] == 40
    assert records[0]["web_search_requests"] == 2


def test_anthropic_stream_interrupted(spool: Path) -> None:
    before = llmeter_sdk.stats()

    for _ in llmeter_sdk.record_stream(anthropic_events([]), customer_id="acme"):
        pass

    assert spooled_records(spool) == []
    assert counter_change(before, "missing_usage") == 1


def test_responses_stream_completed_event(spool: Path) -> None:
    for _ in llmeter_sdk.record_stream(responses_events(completed=True), customer_id="acme"):
        pass

    records = spooled_records(spool)
    assert len(records) == 1
    assert records[0]["input_uncached_tokens"] == 145
    assert records[0]["cache_read_tokens"] == 1408
    assert records[0]["output_tokens"] == 28
    assert records[0]["reasoning_tokens"] == 4
    assert records[0]["request_id"] == "resp_stream1"


def test_responses_stream_without_completion(spool: Path) -> None:
    before = llmeter_sdk.stats()

    for _ in llmeter_sdk.record_stream(responses_events(completed=False), customer_id="acme"):
        pass

    assert spooled_records(spool) == []
    assert counter_change(before, "missing_usage") == 1


def test_gemini_stream_last_metadata(spool: Path) -> None:
    for _ in llmeter_sdk.record_stream(gemini_chunks(finished=True), customer_id="acme"):
        pass

    records = spooled_records(spool)
    assert len(records) == 1
    assert records[0]["provider"] == "google"
    assert records[0]["input_uncached_tokens"] == 400
    assert records[0]["output_tokens"] == 250
    assert records[0]["reasoning_tokens"] == 50


def test_gemini_stream_without_finish(spool: Path) -> None:
    before = llmeter_sdk.stats()

    for _ in llmeter_sdk.record_stream(gemini_chunks(finished=False), customer_id="acme"):
        pass

    assert spooled_records(spool) == []
    assert counter_change(before, "missing_usage") == 1


def test_stream_closed_early_is_missing_usage(spool: Path) -> None:
    before = llmeter_sdk.stats()
    stream = llmeter_sdk.record_stream(openai_chunks(with_usage=True), customer_id="acme")

    first = next(stream)
    stream.close()

    assert first.choices[0].delta.content == "Hel"
    assert spooled_records(spool) == []
    assert counter_change(before, "missing_usage") == 1


def test_stream_that_raises_still_counts(spool: Path) -> None:
    before = llmeter_sdk.stats()

    def broken_stream() -> Iterator[ChatCompletionChunk]:
        yield openai_chunks(with_usage=False)[0]
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(ConnectionResetError):
        for _ in llmeter_sdk.record_stream(broken_stream(), customer_id="acme"):
            pass

    assert counter_change(before, "missing_usage") == 1


def test_record_stream_uses_scope_at_creation(spool: Path) -> None:
    with llmeter_sdk.customer("scoped-customer", feature="chat"):
        stream = llmeter_sdk.record_stream(openai_chunks(with_usage=True))
    for _ in stream:
        pass

    records = spooled_records(spool)
    assert records[0]["customer_id"] == "scoped-customer"
    assert records[0]["tags"] == {"feature": "chat"}


def test_async_stream(spool: Path) -> None:
    async def chunks() -> AsyncIterator[ChatCompletionChunk]:
        for chunk in openai_chunks(with_usage=True):
            yield chunk

    async def consume() -> int:
        passed = 0
        async for _ in llmeter_sdk.arecord_stream(chunks(), customer_id="async-customer"):
            passed += 1
        return passed

    passed = asyncio.run(consume())

    records = spooled_records(spool)
    assert passed == 3
    assert records[0]["customer_id"] == "async-customer"
    assert records[0]["output_tokens"] == 300


def test_observe_never_raises(spool: Path) -> None:
    before = llmeter_sdk.stats()
    usage = llmeter_sdk.StreamUsage()

    usage.observe(object())
    usage.observe(None)
    usage.record(customer_id="acme")

    assert counter_change(before, "invalid") == 1
    assert spooled_records(spool) == []
