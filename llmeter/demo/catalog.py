"""The fixed parts of the demo company: plans, models, product features and provider accounts.

Nothing here is random. The simulator draws customers, volumes and tokens around these
definitions, and `pricing.py` checks every model against genai-prices before a call is priced.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

OPENAI = "openai"
ANTHROPIC = "anthropic"


@dataclass(frozen=True)
class Plan:
    """A row of `seeds/plan_tiers.csv`, with the demo's usage level for customers on it."""

    plan_id: str
    plan_name: str
    billing_period: str
    fee: Decimal
    included_requests_per_month: int | None
    overage_price_per_1k_requests: Decimal
    volume_factor: float
    """Relative call volume of a customer on this plan (free users call least)."""
    rank: int
    """Order for upgrades and downgrades; plans of equal rank differ only in billing period."""


# The same values as seeds/plan_tiers.csv; that seed file is the source of truth.
PLANS: dict[str, Plan] = {
    plan.plan_id: plan
    for plan in (
        Plan("free", "Free", "monthly", Decimal(0), 1000, Decimal(0), 0.15, 0),
        Plan("starter", "Starter", "monthly", Decimal(49), 20000, Decimal("2.00"), 1.0, 1),
        Plan("growth", "Growth", "monthly", Decimal(299), 200000, Decimal("1.50"), 3.0, 2),
        Plan(
            "growth_annual",
            "Growth (annual)",
            "annual",
            Decimal(2990),
            200000,
            Decimal("1.50"),
            3.0,
            2,
        ),
        Plan("enterprise", "Enterprise", "annual", Decimal(60000), None, Decimal(0), 8.0, 3),
    )
}

UPGRADES = {"free": "starter", "starter": "growth", "growth": "enterprise"}
DOWNGRADES = {"growth": "starter", "starter": "free"}
MONTHLY_PLANS = ("free", "starter", "growth")
NEGOTIATED_ENTERPRISE_FEES = (36000, 48000, 60000, 75000, 90000, 120000)
DISCOUNT_PERCENTAGES = (10, 15, 20, 25)


@dataclass(frozen=True)
class ModelSpec:
    """A model the demo company calls, named exactly as the provider's responses name it."""

    provider: str
    model: str
    display_name: str
    """The name in Anthropic's cost report descriptions ("Claude Sonnet 4.5")."""
    reasoning: bool
    """Whether calls spend reasoning (thinking) tokens, which are part of the output tokens."""


MODELS: dict[str, ModelSpec] = {
    spec.model: spec
    for spec in (
        ModelSpec(OPENAI, "gpt-4.1-mini-2025-04-14", "GPT-4.1 mini", reasoning=False),
        ModelSpec(OPENAI, "gpt-5-nano-2025-08-07", "GPT-5 nano", reasoning=True),
        ModelSpec(OPENAI, "gpt-5-mini-2025-08-07", "GPT-5 mini", reasoning=True),
        ModelSpec(OPENAI, "gpt-5.4-mini-2026-03-17", "GPT-5.4 mini", reasoning=True),
        ModelSpec(OPENAI, "gpt-5.4-2026-03-05", "GPT-5.4", reasoning=True),
        # Undated: genai-prices 0.2.3 lowers its price on 2026-08-21.
        ModelSpec(OPENAI, "gpt-5.6-sol", "GPT-5.6 Sol", reasoning=True),
        ModelSpec(ANTHROPIC, "claude-haiku-4-5-20251001", "Claude Haiku 4.5", reasoning=False),
        ModelSpec(ANTHROPIC, "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", reasoning=False),
        ModelSpec(ANTHROPIC, "claude-sonnet-4-6", "Claude Sonnet 4.6", reasoning=True),
        ModelSpec(ANTHROPIC, "claude-opus-4-7", "Claude Opus 4.7", reasoning=True),
    )
}

PRICE_CHANGE_MODEL = "gpt-5.6-sol"
DEAR_MODEL = "claude-opus-4-7"
"""The model the unprofitable customer moves all its traffic to."""


@dataclass(frozen=True)
class Feature:
    """A product feature (the `feature` tag) or an untagged background job, and its call shape.

    Token counts are drawn from lognormal distributions around the medians. A capability that
    genai-prices does not price for the chosen model and day (cache writes, 1-hour cache writes,
    web search, long context, batch) is never generated, regardless of the probabilities.
    """

    name: str
    models: tuple[tuple[str, float], ...]
    """Models and their relative weights."""
    input_median: int
    input_sigma: float
    output_median: int
    output_sigma: float
    prefix_tokens: int
    """Size of the prompt prefix that prompt caching can reuse (system prompt, documents)."""
    cache_read_probability: float
    cache_write_probability: float
    one_hour_write_share: float
    """Share of Anthropic cache writes that use the 1-hour time-to-live."""
    web_search_probability: float
    max_web_searches: int
    reasoning_share: tuple[float, float]
    """Range of the reasoning share of output tokens, for reasoning models."""
    long_context_probability: float
    """Probability that a call's total input exceeds the model's long-context threshold, for a
    customer that sends long-context calls with this feature every day (see `calls.py`)."""
    batch_share: float
    """Share of calls sent through the batch API on days genai-prices has batch prices."""
    openai_key: str
    anthropic_key: str
    lowest_plan_rank: int
    """Customers on plans of lower rank do not use the feature."""


FEATURES: dict[str, Feature] = {
    feature.name: feature
    for feature in (
        Feature(
            "support_chat",
            (("gpt-5.4-mini-2026-03-17", 0.55), ("claude-haiku-4-5-20251001", 0.45)),
            3000,
            0.6,
            300,
            0.6,
            prefix_tokens=1800,
            cache_read_probability=0.6,
            cache_write_probability=0.15,
            one_hour_write_share=0.0,
            web_search_probability=0.0,
            max_web_searches=0,
            reasoning_share=(0.0, 0.3),
            long_context_probability=0.0,
            batch_share=0.0,
            openai_key="app-backend",
            anthropic_key="prod-chat",
            lowest_plan_rank=0,
        ),
        Feature(
            "ticket_triage",
            (("gpt-4.1-mini-2025-04-14", 0.6), ("gpt-5-nano-2025-08-07", 0.4)),
            1400,
            0.5,
            60,
            0.5,
            prefix_tokens=1152,
            cache_read_probability=0.5,
            cache_write_probability=0.0,
            one_hour_write_share=0.0,
            web_search_probability=0.0,
            max_web_searches=0,
            reasoning_share=(0.2, 0.5),
            long_context_probability=0.0,
            batch_share=0.5,
            openai_key="app-workers",
            anthropic_key="prod-chat",
            lowest_plan_rank=0,
        ),
        Feature(
            "document_summary",
            (("claude-sonnet-4-5-20250929", 0.55), ("gpt-5.4-2026-03-05", 0.45)),
            18000,
            0.8,
            700,
            0.5,
            prefix_tokens=1500,
            cache_read_probability=0.15,
            cache_write_probability=0.1,
            one_hour_write_share=0.0,
            web_search_probability=0.0,
            max_web_searches=0,
            reasoning_share=(0.1, 0.3),
            long_context_probability=0.1,
            batch_share=0.3,
            openai_key="app-backend",
            anthropic_key="prod-docs",
            lowest_plan_rank=1,
        ),
        Feature(
            "research_assistant",
            (("gpt-5.6-sol", 0.65), ("claude-sonnet-4-6", 0.35)),
            6000,
            0.6,
            900,
            0.5,
            prefix_tokens=2500,
            cache_read_probability=0.5,
            cache_write_probability=0.15,
            one_hour_write_share=0.0,
            web_search_probability=0.75,
            max_web_searches=4,
            reasoning_share=(0.3, 0.7),
            long_context_probability=0.0,
            batch_share=0.0,
            openai_key="app-backend",
            anthropic_key="prod-docs",
            lowest_plan_rank=1,
        ),
        Feature(
            "nightly_reports",
            (("gpt-5-mini-2025-08-07", 0.7), ("claude-haiku-4-5-20251001", 0.3)),
            9000,
            0.5,
            1200,
            0.4,
            prefix_tokens=2000,
            cache_read_probability=0.2,
            cache_write_probability=0.05,
            one_hour_write_share=0.0,
            web_search_probability=0.0,
            max_web_searches=0,
            reasoning_share=(0.4, 0.8),
            long_context_probability=0.0,
            batch_share=0.9,
            openai_key="reports-batch",
            anthropic_key="prod-docs",
            lowest_plan_rank=2,
        ),
        Feature(
            "code_agent",
            (("claude-opus-4-7", 0.75), ("gpt-5.4-2026-03-05", 0.25)),
            24000,
            0.6,
            1400,
            0.6,
            prefix_tokens=16000,
            cache_read_probability=0.8,
            cache_write_probability=0.2,
            one_hour_write_share=0.7,
            web_search_probability=0.05,
            max_web_searches=2,
            reasoning_share=(0.2, 0.6),
            long_context_probability=0.05,
            batch_share=0.0,
            openai_key="app-backend",
            anthropic_key="agents-prod",
            lowest_plan_rank=3,
        ),
    )
}

REPORT_DRAFTING = Feature(
    "report_drafting",
    (("gpt-5.6-sol", 1.0),),
    5000,
    0.25,
    6000,
    0.25,
    prefix_tokens=2000,
    cache_read_probability=0.4,
    cache_write_probability=0.1,
    one_hour_write_share=0.0,
    web_search_probability=0.0,
    max_web_searches=0,
    reasoning_share=(0.3, 0.6),
    long_context_probability=0.0,
    batch_share=0.0,
    openai_key="app-backend",
    anthropic_key="prod-docs",
    lowest_plan_rank=0,
)
"""The only feature of the customer whose cost shows the gpt-5.6-sol price change.

Not in FEATURES, so no other customer draws it. Its reports are of similar size from day to
day (narrow token spreads), and output dominates its cost, so the price cut of
2026-08-21 (input -20%, output -33%) lowers its cost by about 31%.
"""


def customer_feature(name: str) -> Feature:
    """Return the customer feature called `name`, `report_drafting` included."""
    if name == REPORT_DRAFTING.name:
        return REPORT_DRAFTING
    return FEATURES[name]


CHEAP_FEATURES = ("support_chat", "ticket_triage")
"""The only features of the customer that later moves to the dear model, before the move."""

BACKGROUND_JOBS: dict[str, Feature] = {
    job.name: job
    for job in (
        Feature(
            "evals",
            (("gpt-5.4-mini-2026-03-17", 0.5), ("claude-haiku-4-5-20251001", 0.5)),
            2500,
            0.5,
            250,
            0.5,
            prefix_tokens=1800,
            cache_read_probability=0.7,
            cache_write_probability=0.1,
            one_hour_write_share=0.5,
            web_search_probability=0.0,
            max_web_searches=0,
            reasoning_share=(0.1, 0.4),
            long_context_probability=0.0,
            batch_share=0.0,
            openai_key="evals",
            anthropic_key="background-jobs",
            lowest_plan_rank=0,
        ),
        Feature(
            "data_enrichment",
            (("gpt-4.1-mini-2025-04-14", 0.6), ("claude-sonnet-4-6", 0.4)),
            1500,
            0.5,
            150,
            0.5,
            prefix_tokens=1100,
            cache_read_probability=0.4,
            cache_write_probability=0.05,
            one_hour_write_share=0.0,
            web_search_probability=0.02,
            max_web_searches=1,
            reasoning_share=(0.1, 0.3),
            long_context_probability=0.0,
            batch_share=0.5,
            openai_key="background-jobs",
            anthropic_key="background-jobs",
            lowest_plan_rank=0,
        ),
    )
}


@dataclass(frozen=True)
class SubAccount:
    """An OpenAI project or Anthropic workspace and the names of its API keys.

    `slug` is None for Anthropic's default workspace, which the API reports as a null id.
    """

    provider: str
    slug: str | None
    name: str
    key_names: tuple[str, ...]


SUB_ACCOUNTS: tuple[SubAccount, ...] = (
    SubAccount(OPENAI, "customer-app", "Customer App", ("app-backend", "app-workers")),
    SubAccount(OPENAI, "reporting", "Reporting", ("reports-batch",)),
    SubAccount(OPENAI, "internal", "Internal Tools", ("background-jobs", "evals")),
    SubAccount(ANTHROPIC, "production", "Production", ("prod-chat", "prod-docs")),
    SubAccount(ANTHROPIC, "agents", "Agents", ("agents-prod",)),
    SubAccount(ANTHROPIC, None, "Default", ("background-jobs",)),
)

# Relative call volume by weekday (Monday first): a business product is quiet at weekends.
WEEKDAY_FACTORS = (1.05, 1.1, 1.1, 1.05, 0.95, 0.45, 0.4)

# Relative call volume by local hour of day.
LOCAL_HOUR_WEIGHTS = (
    0.2,
    0.15,
    0.1,
    0.1,
    0.1,
    0.15,
    0.3,
    0.6,
    1.0,
    1.4,
    1.6,
    1.6,
    1.4,
    1.5,
    1.6,
    1.5,
    1.3,
    1.0,
    0.7,
    0.5,
    0.4,
    0.35,
    0.3,
    0.25,
)

# Customer time zones as (minutes east of UTC, relative weight).
TIME_ZONES = (
    (0, 3.0),
    (60, 2.0),
    (120, 1.0),
    (-300, 3.0),
    (-360, 1.0),
    (-480, 2.0),
    (330, 1.0),
    (540, 1.0),
    (600, 0.5),
)

NAME_STEMS = (
    "Acme",
    "Northwind",
    "Bluefin",
    "Copperleaf",
    "Driftwood",
    "Evergreen",
    "Foxglove",
    "Granite",
    "Harbor",
    "Ironbridge",
    "Juniper",
    "Keystone",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Oakridge",
    "Pinecrest",
    "Quartz",
    "Redwood",
    "Summit",
    "Tidewater",
    "Umber",
    "Vantage",
    "Willow",
    "Yarrow",
    "Zephyr",
    "Zürich",
    "Søndergaard",
    "Nakamura",
    "Brightline",
)
NAME_SUFFIXES = (
    "Analytics",
    "Labs",
    "Health",
    "Logistics",
    "Legal",
    "Robotics",
    "Retail",
    "Software",
    "Systems",
    "Finance",
    "Media",
    "Studios",
    "Energy",
    "Bio",
    "Travel",
    "Insurance",
)
NAME_FORMS = ("{} {} Inc.", "{} {}", "{} {} LLC", "{} {} GmbH", "{} {} Ltd")
