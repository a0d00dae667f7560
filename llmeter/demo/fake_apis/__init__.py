"""Fake OpenAI and Anthropic Admin APIs on 127.0.0.1, serving a demo's provider records.

The demo and the extractor tests point the dlt sources at `FakeProviderServer.openai_base_url`
and `FakeProviderServer.anthropic_base_url` with the keys of `FakeProviderServer.admin_keys`.
"""

from llmeter.demo.fake_apis.server import ADMIN_KEYS, FakeProviderServer, LoggedRequest
from llmeter.demo.fake_apis.store import InvalidRecordError, ProviderDataStore

__all__ = [
    "ADMIN_KEYS",
    "FakeProviderServer",
    "InvalidRecordError",
    "LoggedRequest",
    "ProviderDataStore",
]
