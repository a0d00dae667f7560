"""llmeter_sdk.extract_usage: provider responses normalized into the canonical token classes.

The responses are built with the provider packages' own types (openai, anthropic) or as the
Gemini API's JSON, and every expected count is worked out by hand in the test.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from anthropic.types import Message
from anthropic.types.messages import MessageBatchIndividualResponse
from llmeter_sdk import CallUsage, extract_usage
from llmeter_sdk._usage import InvalidUsageError, MissingUsageError, UnrecognizedResponseError
from openai.types.chat import ChatCompletion
from openai.types.responses import Response, ResponseCompletedEvent


def chat_completion(usage: dict[str, Any] | None, **fields: Any) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-abc123",
            "object": "chat.completion",
            "created": 1793534400,
            "model": "gpt-5-mini-2025-08-07",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Paris."},
                }
            ],
            "service_tier": "default",
            "usage": usage,
            **fields,
        }
    )


CHAT_USAGE = {
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "cache_write_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0},
}


def responses_response(output: list[dict[str, Any]]) -> Response:
    return Response.model_validate(
        {
            "id": "resp_abc123",
            "object": "response",
            "created_at": 1793534400,
            "model": "gpt-5-2025-08-07",
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "service_tier": "priority",
            "usage": {
                "input_tokens": 1553,
                "input_tokens_details": {"cached_tokens": 1408, "cache_write_tokens": 0},
                "output_tokens": 28,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 1581,
            },
        }
    )


WEB_SEARCH_ITEM = {
    "type": "web_search_call",
    "id": "ws_1",
    "status": "completed",
    "action": {"type": "search", "query": "weather"},
}
MESSAGE_ITEM = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Sunny.", "annotations": []}],
}


def anthropic_message(usage: dict[str, Any]) -> Message:
    return Message.model_validate(
        {
            "id": "msg_01XYZ",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Hello."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
    )


ANTHROPIC_USAGE = {
    "input_tokens": 248,
    "cache_creation_input_tokens": 1200,
    "cache_read_input_tokens": 18000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1200, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 503,
    "output_tokens_details": {"thinking_tokens": 120},
    "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0},
    "service_tier": "standard",
}

GEMINI_RESPONSE = {
    "candidates": [
        {"content": {"parts": [{"text": "Hi"}], "role": "model"}, "finishReason": "STOP"}
    ],
    "usageMetadata": {
        "promptTokenCount": 1000,
        "cachedContentTokenCount": 600,
        "candidatesTokenCount": 200,
        "thoughtsTokenCount": 50,
        "totalTokenCount": 1250,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "resp-gemini-1",
}


def test_openai_chat_completion_counts() -> None:
    usage = extract_usage(chat_completion(CHAT_USAGE))

    # 2006 prompt - 1920 cached - 0 cache writes = 86 uncached; reasoning stays inside output.
    assert usage.input_uncached_tokens == 86
    assert usage.cache_read_tokens == 1920
    assert usage.cache_write_5m_tokens == 0
    assert usage.cache_write_1h_tokens == 0
    assert usage.output_tokens == 300
    assert usage.reasoning_tokens == 128
    assert usage.web_search_requests == 0


def test_openai_chat_completion_identifiers() -> None:
    usage = extract_usage(chat_completion(CHAT_USAGE))

    assert usage.provider == "openai"
    assert usage.model == "gpt-5-mini-2025-08-07"
    assert usage.request_id == "chatcmpl-abc123"
    assert usage.service_tier == "default"
    assert usage.is_batch is False


def test_openai_chat_cache_writes_count_as_5m() -> None:
    usage = extract_usage(
        chat_completion(
            {
                "prompt_tokens": 5000,
                "completion_tokens": 10,
                "total_tokens": 5010,
                "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 2048},
            }
        )
    )

    # 5000 - 1000 - 2048 = 1952 uncached.
    assert usage.input_uncached_tokens == 1952
    assert usage.cache_read_tokens == 1000
    assert usage.cache_write_5m_tokens == 2048
    assert usage.reasoning_tokens == 0


def test_openai_chat_without_details() -> None:
    usage = extract_usage(
        chat_completion({"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19})
    )

    assert usage.input_uncached_tokens == 12
    assert usage.cache_read_tokens == 0
    assert usage.output_tokens == 7


def test_openai_responses_counts() -> None:
    usage = extract_usage(responses_response([WEB_SEARCH_ITEM, WEB_SEARCH_ITEM, MESSAGE_ITEM]))

    # 1553 input - 1408 cached = 145 uncached; two web_search_call output items.
    assert usage.input_uncached_tokens == 145
    assert usage.cache_read_tokens == 1408
    assert usage.output_tokens == 28
    assert usage.reasoning_tokens == 0
    assert usage.web_search_requests == 2
    assert usage.model == "gpt-5-2025-08-07"
    assert usage.request_id == "resp_abc123"
    assert usage.service_tier == "priority"


def test_openai_responses_completed_event() -> None:
    event = ResponseCompletedEvent.model_validate(
        {
            "type": "response.completed",
            "sequence_number": 9,
            "response": responses_response([MESSAGE_ITEM]).model_dump(),
        }
    )

    usage = extract_usage(event)

    assert usage.input_uncached_tokens == 145
    assert usage.web_search_requests == 0


def test_anthropic_message_counts() -> None:
    usage = extract_usage(anthropic_message(ANTHROPIC_USAGE))

    # Anthropic's input_tokens already excludes cache reads and writes.
    assert usage.input_uncached_tokens == 248
    assert usage.cache_read_tokens == 18000
    assert usage.cache_write_5m_tokens == 1200
    assert usage.cache_write_1h_tokens == 0
    assert usage.output_tokens == 503
    assert usage.reasoning_tokens == 120
    assert usage.web_search_requests == 1


def test_anthropic_message_identifiers() -> None:
    usage = extract_usage(anthropic_message(ANTHROPIC_USAGE))

    assert usage.provider == "anthropic"
    assert usage.model == "claude-sonnet-4-5-20250929"
    assert usage.request_id == "msg_01XYZ"
    assert usage.service_tier == "standard"
    assert usage.is_batch is False


def test_anthropic_one_hour_cache_writes() -> None:
    usage = extract_usage(
        anthropic_message(
            {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_creation_input_tokens": 1200,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 200,
                    "ephemeral_1h_input_tokens": 1000,
                },
            }
        )
    )

    assert usage.cache_write_5m_tokens == 200
    assert usage.cache_write_1h_tokens == 1000


def test_anthropic_without_cache_breakdown() -> None:
    usage = extract_usage(
        anthropic_message(
            {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 1200}
        )
    )

    assert usage.cache_write_5m_tokens == 1200
    assert usage.cache_write_1h_tokens == 0
    assert usage.cache_read_tokens == 0
    assert usage.reasoning_tokens == 0


def test_anthropic_batch_tier_sets_batch() -> None:
    usage = extract_usage(
        anthropic_message({"input_tokens": 10, "output_tokens": 5, "service_tier": "batch"})
    )

    assert usage.is_batch is True
    assert usage.service_tier == "batch"


def test_anthropic_batch_result_line() -> None:
    line = MessageBatchIndividualResponse.model_validate(
        {
            "custom_id": "request-7",
            "result": {
                "type": "succeeded",
                "message": anthropic_message(ANTHROPIC_USAGE).model_dump(),
            },
        }
    )

    usage = extract_usage(line)

    assert usage.is_batch is True
    assert usage.output_tokens == 503


def test_anthropic_errored_batch_result_has_no_usage() -> None:
    line = MessageBatchIndividualResponse.model_validate(
        {
            "custom_id": "request-8",
            "result": {
                "type": "errored",
                "error": {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": "bad"},
                },
            },
        }
    )

    with pytest.raises(MissingUsageError):
        extract_usage(line)


def test_openai_batch_output_line() -> None:
    line = {
        "id": "batch_req_1",
        "custom_id": "request-1",
        "response": {
            "status_code": 200,
            "request_id": "req_1",
            "body": chat_completion(CHAT_USAGE).model_dump(),
        },
        "error": None,
    }

    usage = extract_usage(line)

    assert usage.is_batch is True
    assert usage.input_uncached_tokens == 86
    assert usage.service_tier == "default"


def test_gemini_camel_case_json() -> None:
    usage = extract_usage(GEMINI_RESPONSE)

    # 1000 prompt - 600 cached = 400 uncached; output = 200 candidates + 50 thoughts.
    assert usage.input_uncached_tokens == 400
    assert usage.cache_read_tokens == 600
    assert usage.output_tokens == 250
    assert usage.reasoning_tokens == 50
    assert usage.provider == "google"
    assert usage.model == "gemini-2.5-flash"
    assert usage.request_id == "resp-gemini-1"


def test_gemini_snake_case_object() -> None:
    # The attribute names of python-genai's GenerateContentResponse.
    response = SimpleNamespace(
        candidates=[],
        usage_metadata=SimpleNamespace(
            prompt_token_count=1000,
            cached_content_token_count=600,
            candidates_token_count=200,
            thoughts_token_count=50,
            total_token_count=1250,
        ),
        model_version="gemini-2.5-pro",
        response_id="resp-gemini-2",
    )

    usage = extract_usage(response)

    assert usage.input_uncached_tokens == 400
    assert usage.output_tokens == 250
    assert usage.model == "gemini-2.5-pro"


def test_gemini_without_cache_or_thoughts() -> None:
    usage = extract_usage({"usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4}})

    assert usage.input_uncached_tokens == 9
    assert usage.cache_read_tokens == 0
    assert usage.output_tokens == 4
    assert usage.model is None


def test_json_text_is_accepted() -> None:
    usage = extract_usage(json.dumps(GEMINI_RESPONSE))

    assert usage == extract_usage(GEMINI_RESPONSE)


def test_provider_argument_overrides_shape() -> None:
    usage = extract_usage(chat_completion(CHAT_USAGE), provider="google")

    assert usage.provider == "google"
    assert usage.input_uncached_tokens == 86


def test_chat_completion_without_usage() -> None:
    with pytest.raises(MissingUsageError) as raised:
        extract_usage(chat_completion(None))

    assert raised.value.provider == "openai"


def test_unknown_provider_name() -> None:
    with pytest.raises(UnrecognizedResponseError):
        extract_usage(chat_completion(CHAT_USAGE), provider="azure")


@pytest.mark.parametrize("response", [object(), {"id": "x"}, 42, None])
def test_unrecognized_objects(response: object) -> None:
    with pytest.raises(UnrecognizedResponseError):
        extract_usage(response)


def test_string_token_count_is_invalid() -> None:
    with pytest.raises(InvalidUsageError):
        extract_usage({"usageMetadata": {"promptTokenCount": "120"}})


def test_cached_above_prompt_is_invalid() -> None:
    with pytest.raises(InvalidUsageError):
        extract_usage(
            chat_completion(
                {
                    "prompt_tokens": 10,
                    "completion_tokens": 1,
                    "total_tokens": 11,
                    "prompt_tokens_details": {"cached_tokens": 20},
                }
            )
        )


def test_token_counts_are_the_record_columns() -> None:
    counts = CallUsage("openai", "m", None, None, False, 1, 2, 3, 4, 5, 6, 7).token_counts()

    assert counts == {
        "input_uncached_tokens": 1,
        "cache_read_tokens": 2,
        "cache_write_5m_tokens": 3,
        "cache_write_1h_tokens": 4,
        "output_tokens": 5,
        "reasoning_tokens": 6,
        "web_search_requests": 7,
    }
