"""Model aliases: the names a provider's responses use for a model that the price seed prices.

Three sources, in order of precedence:

1. the exact names in genai-prices' match rules (`gpt-4o-2024-08-06` for `gpt-4o`);
2. the name prefixes in genai-prices' match rules (`claude-3-5-haiku` for
   `claude-3-5-haiku-latest`), which serve names whose date suffix the models strip;
3. Anthropic snapshot ids as the Claude API, Amazon Bedrock and Google Vertex AI name them,
   listed below, because genai-prices matches those with prefix rules that a lookup table
   cannot hold.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from genai_prices import types as genai_types

from llmeter.prices.catalog import PROVIDERS, provider_models

ALIAS_COLUMNS = ("provider", "alias", "model")


@dataclass(frozen=True)
class ClaudeSnapshot:
    """A dated Claude model snapshot and its ids on Amazon Bedrock and Google Vertex AI."""

    snapshot_id: str
    bedrock_id: str
    vertex_id: str


CLAUDE_SNAPSHOTS = (
    ClaudeSnapshot(
        "claude-3-haiku-20240307",
        "anthropic.claude-3-haiku-20240307-v1:0",
        "claude-3-haiku@20240307",
    ),
    ClaudeSnapshot(
        "claude-3-sonnet-20240229",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        "claude-3-sonnet@20240229",
    ),
    ClaudeSnapshot(
        "claude-3-opus-20240229",
        "anthropic.claude-3-opus-20240229-v1:0",
        "claude-3-opus@20240229",
    ),
    ClaudeSnapshot(
        "claude-3-5-sonnet-20240620",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "claude-3-5-sonnet@20240620",
    ),
    ClaudeSnapshot(
        "claude-3-5-sonnet-20241022",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "claude-3-5-sonnet-v2@20241022",
    ),
    ClaudeSnapshot(
        "claude-3-5-haiku-20241022",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "claude-3-5-haiku@20241022",
    ),
    ClaudeSnapshot(
        "claude-3-7-sonnet-20250219",
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "claude-3-7-sonnet@20250219",
    ),
    ClaudeSnapshot(
        "claude-sonnet-4-20250514",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "claude-sonnet-4@20250514",
    ),
    ClaudeSnapshot(
        "claude-opus-4-20250514",
        "anthropic.claude-opus-4-20250514-v1:0",
        "claude-opus-4@20250514",
    ),
    ClaudeSnapshot(
        "claude-opus-4-1-20250805",
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "claude-opus-4-1@20250805",
    ),
    ClaudeSnapshot(
        "claude-sonnet-4-5-20250929",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "claude-sonnet-4-5@20250929",
    ),
    ClaudeSnapshot(
        "claude-haiku-4-5-20251001",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "claude-haiku-4-5@20251001",
    ),
    ClaudeSnapshot(
        "claude-opus-4-5-20251101",
        "anthropic.claude-opus-4-5-20251101-v1:0",
        "claude-opus-4-5@20251101",
    ),
)


def _match_names(match: object) -> list[str]:
    """Collect the exact names and plain prefixes of a genai-prices match rule, in rule order.

    Rules inside an `and` clause are skipped: such a name matches only together with another
    condition, which a lookup table cannot express.
    """
    if isinstance(match, genai_types.ClauseEquals):
        return [match.equals.lower()]
    if isinstance(match, genai_types.ClauseStartsWith | genai_types.ClauseContains):
        text = (
            match.starts_with if isinstance(match, genai_types.ClauseStartsWith) else match.contains
        )
        return [text.lower()]
    if isinstance(match, genai_types.ClauseOr):
        return [name for clause in match.or_ for name in _match_names(clause)]
    return []


def _is_model_name(name: str) -> bool:
    """Check whether a match-rule text can be a whole model name (not `ft:gpt-4o-2024-`)."""
    return bool(name) and name[-1].isalnum()


def alias_rows(provider_ids: Iterable[str] = PROVIDERS) -> list[tuple[str, str, str]]:
    """Build the (provider, alias, model) rows of `seeds/model_aliases.csv`, sorted.

    A name that is itself a priced model id is never an alias, and a name that several models
    claim goes to the first model in genai-prices' order, which is the one genai-prices picks.
    """
    models = provider_models(provider_ids)
    model_ids = {(provider, model.id.lower()) for provider, model in models}
    aliases: dict[tuple[str, str], str] = {}
    for provider, model in models:
        for name in _match_names(model.match):
            if _is_model_name(name) and (provider, name) not in model_ids:
                aliases.setdefault((provider, name), model.id)

    for snapshot in CLAUDE_SNAPSHOTS:
        target = _genai_model_for("anthropic", snapshot.snapshot_id, models)
        if target is None:
            continue
        for name in (snapshot.snapshot_id, snapshot.bedrock_id, snapshot.vertex_id):
            if ("anthropic", name) not in model_ids:
                aliases.setdefault(("anthropic", name), target)
    return sorted((provider, alias, model) for (provider, alias), model in aliases.items())


def _genai_model_for(
    provider: str, name: str, models: list[tuple[str, genai_types.ModelInfo]]
) -> str | None:
    for model_provider, model in models:
        if model_provider == provider and model.is_match(name):
            return model.id
    return None


def write_alias_seed(rows: Iterable[tuple[str, str, str]]) -> str:
    """Write the alias seed as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ALIAS_COLUMNS)
    writer.writerows(sorted(rows))
    return buffer.getvalue()
