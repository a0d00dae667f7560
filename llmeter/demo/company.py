"""The demo company's customers, subscriptions, provider accounts and injected events.

Everything is drawn from `random.Random` instances seeded from the demo seed and a fixed label,
so that the same options give the same company.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from llmeter.demo import catalog
from llmeter.demo.catalog import ANTHROPIC, OPENAI, PLANS

MIN_CUSTOMERS = 5
MIN_DAYS = 14
MAX_DAYS = 3660
DEFAULT_TOTAL_CALLS = 200_000

UNTAGGED_SHARE_RANGE = (0.065, 0.09)
"""Untagged calls per tagged call on a day, so untagged calls are 6.1-8.3% of all calls."""

RUNAWAY_MULTIPLIER = 20
PRICE_CHANGE_SHARE = 0.1
"""The daily calls of the customer whose cost shows the price change, as a share of tagged calls."""
UNPROFITABLE_COST_TO_REVENUE = 5
"""Smallest cost of the unprofitable customer's month on the dear model, as a multiple of its
fee. Its prompts grow only if the dear model's price alone falls short. On the default and test
demos the month costs 5 to 7 times the fee, and the first day of the move 8 to 12 USD more
than before, well over the 5 USD anomaly floor."""
UNPROFITABLE_DAILY_CALLS = 100.0
UNPROFITABLE_MAX_SHARE = 0.12
"""The unprofitable customer's daily calls: 100, or this share of all tagged calls if smaller.
Enough calls that the dear model's price, more than its larger prompts, makes up the month's
cost: the move's main driver is the model mix."""

STOPPED_FEATURES = (("support_chat", 1.0), ("document_summary", 2.0), ("research_assistant", 1.0))
"""Features and weights of the customer whose usage stops."""

SIGNUP_SHARE = 0.15
UPGRADE_SHARE = 0.07
DOWNGRADE_SHARE = 0.03
CANCELLATION_SHARE = 0.03
EARLIER_PLAN_SHARE = 0.35
DISCOUNT_SHARE = 0.12
LOCAL_OFFSET_SHARE = 0.1
"""Share of customers whose SDK writes `occurred_at` in local time with an offset."""


@dataclass(frozen=True)
class DemoOptions:
    """The options of `llmeter demo` that shape the generated data."""

    customers: int = 200
    days: int = 90
    calls_per_day: int | None = None
    as_of: dt.date = dt.date(2026, 11, 1)
    seed: int = 7

    def validate(self) -> None:
        """Raise ValueError naming the first invalid option."""
        if self.customers < MIN_CUSTOMERS:
            raise ValueError(f"--customers must be at least {MIN_CUSTOMERS}, got {self.customers}")
        if not MIN_DAYS <= self.days <= MAX_DAYS:
            raise ValueError(f"--days must be between {MIN_DAYS} and {MAX_DAYS}, got {self.days}")
        if self.calls_per_day is not None and self.calls_per_day < 1:
            raise ValueError(f"--calls-per-day must be at least 1, got {self.calls_per_day}")

    @property
    def first_day(self) -> dt.date:
        return self.as_of - dt.timedelta(days=self.days)

    @property
    def last_day(self) -> dt.date:
        return self.as_of - dt.timedelta(days=1)

    @property
    def mean_calls_per_day(self) -> int:
        """Mean tagged and untagged calls per day; by default about 200,000 calls in total."""
        if self.calls_per_day is not None:
            return self.calls_per_day
        return max(1, round(DEFAULT_TOTAL_CALLS / self.days))


@dataclass
class Subscription:
    """A row of `subscriptions.csv`; `subscription_id` is assigned once all are known."""

    customer_id: str
    plan_id: str
    start_date: dt.date
    end_date: dt.date | None = None
    negotiated_fee: Decimal | None = None
    discount_pct: int | None = None
    subscription_id: str = ""


@dataclass
class Customer:
    """A customer of the demo company and what shapes its calls."""

    customer_id: str
    name: str
    created_date: dt.date
    size: float
    """Heavy-tailed relative call volume (lognormal)."""
    offset_minutes: int
    writes_local_offset: bool
    signed_up_in_period: bool
    features: tuple[tuple[str, float], ...] = ()
    subscriptions: list[Subscription] = field(default_factory=list)
    fixed_daily_calls: float | None = None
    """Mean calls per day that replace the size-based volume (the unprofitable customer and the
    customer whose cost shows the price change)."""
    scheduled: bool = False
    """Whether the calls come from a scheduled job (the customer whose cost shows the price
    change drafts a fixed set of reports each day for its accounts): the daily count is the
    expected volume, which follows the weekday but not the company's growth, rather than the
    sum of many users' independent calls."""
    stop_date: dt.date | None = None
    """First day with no calls at all (the customer whose usage stops)."""

    def plan_on(self, day: dt.date) -> str | None:
        """Return the plan active on `day`, or None before sign-up and after a cancellation."""
        for subscription in self.subscriptions:
            if subscription.start_date <= day and (
                subscription.end_date is None or day <= subscription.end_date
            ):
                return subscription.plan_id
        return None


@dataclass(frozen=True)
class ApiKey:
    """A provider API key; `sub_account_id` is its project or workspace, None the default one."""

    provider: str
    key_id: str
    name: str
    sub_account_id: str | None
    sub_account_name: str
    created_at: dt.datetime
    owner_id: str
    hint: str
    """First 3 and last 4 characters of the secret, as the APIs show them in redacted keys."""


@dataclass(frozen=True)
class SubAccountIds:
    """An OpenAI project or Anthropic workspace with its generated id."""

    provider: str
    sub_account_id: str | None
    name: str
    created_at: dt.datetime
    display_color: str


@dataclass
class InjectedEvents:
    """The customers and days of the events that the marts must find."""

    runaway_customer_id: str
    runaway_date: dt.date
    stopped_customer_id: str
    stop_date: dt.date
    unprofitable_customer_id: str
    unprofitable_month: dt.date | None
    """First day of the month the customer turns unprofitable; None without a complete month."""
    price_change_customer_id: str
    """The customer whose calls all go to catalog.PRICE_CHANGE_MODEL, so that its cost drops
    when that model's price is cut."""


@dataclass
class Company:
    """The customers, accounts and injected events of one demo generation."""

    options: DemoOptions
    customers: list[Customer]
    subscriptions: list[Subscription]
    sub_accounts: list[SubAccountIds]
    api_keys: dict[tuple[str, str], ApiKey]
    """Keys by (provider, key name)."""
    events: InjectedEvents


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def random_base62(rng: random.Random, length: int) -> str:
    """Return `length` random base-62 characters."""
    return "".join(rng.choices(BASE62, k=length))


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def complete_months(first_day: dt.date, last_day: dt.date) -> list[dt.date]:
    """Return the first days of the calendar months that lie entirely in [first_day, last_day]."""
    months = []
    start = first_day if first_day.day == 1 else next_month(first_day)
    while next_month(start) - dt.timedelta(days=1) <= last_day:
        months.append(start)
        start = next_month(start)
    return months


def build_company(options: DemoOptions) -> Company:
    """Draw the customers, their subscriptions, the provider accounts and the injected events."""
    options.validate()
    rng = random.Random(f"{options.seed}:customers")
    customers = _draw_customers(options, rng)
    events = _choose_event_customers(options, customers)
    by_id = {customer.customer_id: customer for customer in customers}
    special = {
        # An enterprise fee covers a day of runaway calls, so the loop does not by itself turn
        # the month unprofitable.
        events.runaway_customer_id: "enterprise",
        events.stopped_customer_id: "enterprise",
        events.unprofitable_customer_id: "starter",
        events.price_change_customer_id: "enterprise",
    }
    for customer in customers:
        _draw_subscriptions(options, rng, customer, special.get(customer.customer_id))
        _draw_features(rng, customer)

    unprofitable = by_id[events.unprofitable_customer_id]
    tagged_per_day = options.mean_calls_per_day / (1 + sum(UNTAGGED_SHARE_RANGE) / 2)
    unprofitable.fixed_daily_calls = min(
        UNPROFITABLE_DAILY_CALLS, UNPROFITABLE_MAX_SHARE * tagged_per_day
    )
    unprofitable.features = tuple(
        (name, weight) for name, weight in unprofitable.features if name in catalog.CHEAP_FEATURES
    )
    stopped = by_id[events.stopped_customer_id]
    stopped.stop_date = events.stop_date
    # A research firm that summarizes and researches documents, so losing its calls is worth
    # dollars a day, whatever features its size would have drawn.
    stopped.features = tuple(
        (name, weight) for name, weight in STOPPED_FEATURES if name in catalog.FEATURES
    )
    steady = by_id[events.price_change_customer_id]
    steady.fixed_daily_calls = PRICE_CHANGE_SHARE * tagged_per_day
    steady.features = ((catalog.REPORT_DRAFTING.name, 1.0),)
    steady.scheduled = True

    subscriptions = sorted(
        (subscription for customer in customers for subscription in customer.subscriptions),
        key=lambda s: (s.customer_id, s.start_date),
    )
    for number, subscription in enumerate(subscriptions, start=1):
        subscription.subscription_id = f"sub_{number:05d}"

    sub_accounts, api_keys = _draw_accounts(options)
    return Company(options, customers, subscriptions, sub_accounts, api_keys, events)


def _draw_customers(options: DemoOptions, rng: random.Random) -> list[Customer]:
    names = [(stem, suffix) for stem in catalog.NAME_STEMS for suffix in catalog.NAME_SUFFIXES]
    rng.shuffle(names)
    offsets = [offset for offset, _ in catalog.TIME_ZONES]
    offset_weights = [weight for _, weight in catalog.TIME_ZONES]
    customers = []
    for index in range(options.customers):
        stem, suffix = names[index % len(names)]
        name = rng.choice(catalog.NAME_FORMS).format(stem, suffix)
        if index >= len(names):
            name = f"{name} {index // len(names) + 1}"
        # The first MIN_CUSTOMERS customers exist before the period, so events always have
        # customers with a full history to happen to.
        signed_up = index >= MIN_CUSTOMERS and rng.random() < SIGNUP_SHARE
        if signed_up:
            created = options.first_day + dt.timedelta(days=rng.randrange(options.days - 3))
        else:
            created = options.first_day - dt.timedelta(days=rng.randint(60, 900))
        offset = rng.choices(offsets, weights=offset_weights)[0]
        customers.append(
            Customer(
                customer_id=f"cus_{index + 1:04d}",
                name=name,
                created_date=created,
                size=rng.lognormvariate(0.0, 1.1),
                offset_minutes=offset,
                writes_local_offset=offset != 0 and rng.random() < LOCAL_OFFSET_SHARE,
                signed_up_in_period=signed_up,
            )
        )
    return customers


def _choose_event_customers(options: DemoOptions, customers: list[Customer]) -> InjectedEvents:
    # Existing customers, so each has history before its event. The stop and the runaway
    # happen to the two largest, whose daily cost is large enough that losing it, or twenty
    # times it, is worth a FinOps reader's look; the unprofitable customer is a mid-sized one,
    # and the price-change customer's volume is set apart from its size.
    existing = sorted(
        (customer for customer in customers if not customer.signed_up_in_period),
        key=lambda customer: (-customer.size, customer.customer_id),
    )
    chosen: list[Customer] = []
    for index in (0, 1, len(existing) // 2, len(existing) // 5):
        while existing[index] in chosen:
            index = (index + 1) % len(existing)
        chosen.append(existing[index])
    stopped, runaway, unprofitable, steady = chosen

    # Both on weekdays, when the customer's normal cost is highest.
    days = [options.first_day + dt.timedelta(days=i) for i in range(options.days)]
    runaway_index = round(0.6 * (options.days - 1))
    while days[runaway_index].weekday() >= 5:
        runaway_index -= 1
    stop_index = round(0.7 * (options.days - 1))
    while days[stop_index].weekday() >= 5:
        stop_index -= 1
    stop_date = days[stop_index]

    months = complete_months(options.first_day, options.last_day)
    unprofitable_month = None
    if months and (months[-1] - options.first_day).days >= 7:
        unprofitable_month = months[-1]

    return InjectedEvents(
        runaway_customer_id=runaway.customer_id,
        runaway_date=days[runaway_index],
        stopped_customer_id=stopped.customer_id,
        stop_date=stop_date,
        unprofitable_customer_id=unprofitable.customer_id,
        unprofitable_month=unprofitable_month,
        price_change_customer_id=steady.customer_id,
    )


def _draw_subscriptions(
    options: DemoOptions, rng: random.Random, customer: Customer, forced_plan: str | None
) -> None:
    if forced_plan is not None:
        customer.subscriptions = [
            _new_subscription(rng, customer, forced_plan, customer.created_date)
        ]
        if forced_plan == "starter":
            customer.subscriptions[0].discount_pct = None
        return

    if customer.signed_up_in_period:
        plan = rng.choices(("free", "starter"), weights=(0.55, 0.45))[0]
    else:
        plan = rng.choices(
            ("free", "starter", "growth", "growth_annual", "enterprise"),
            weights=(0.3, 0.35, 0.17, 0.08, 0.1),
        )[0]

    subscriptions: list[Subscription] = []
    start = customer.created_date
    room = (options.first_day - customer.created_date).days - 31
    had_earlier_plan = (
        not customer.signed_up_in_period
        and plan != "free"
        and room > 0
        and rng.random() < EARLIER_PLAN_SHARE
    )
    if had_earlier_plan:
        earlier = "free" if PLANS[plan].rank == 1 else rng.choice(("starter", "growth"))
        start = customer.created_date + dt.timedelta(days=30 + rng.randrange(room))
        first = _new_subscription(rng, customer, earlier, customer.created_date)
        first.end_date = start - dt.timedelta(days=1)
        subscriptions.append(first)
    current = _new_subscription(rng, customer, plan, start)
    subscriptions.append(current)

    draw = rng.random()
    change_day = options.first_day + dt.timedelta(days=rng.randint(5, options.days - 3))
    if change_day <= max(start, customer.created_date) + dt.timedelta(days=3):
        customer.subscriptions = subscriptions
        return
    next_plan: str | None = None
    if draw < UPGRADE_SHARE and plan in catalog.UPGRADES:
        next_plan = catalog.UPGRADES[plan]
        if next_plan == "enterprise" and rng.random() >= 0.3:
            next_plan = None
    elif draw < UPGRADE_SHARE + DOWNGRADE_SHARE and plan in catalog.DOWNGRADES:
        next_plan = catalog.DOWNGRADES[plan]
    elif (
        draw < UPGRADE_SHARE + DOWNGRADE_SHARE + CANCELLATION_SHARE
        and plan in catalog.MONTHLY_PLANS
    ):
        current.end_date = change_day
    if next_plan is not None:
        current.end_date = change_day - dt.timedelta(days=1)
        subscriptions.append(_new_subscription(rng, customer, next_plan, change_day))
    customer.subscriptions = subscriptions


def _new_subscription(
    rng: random.Random, customer: Customer, plan: str, start: dt.date
) -> Subscription:
    subscription = Subscription(customer_id=customer.customer_id, plan_id=plan, start_date=start)
    if plan == "enterprise":
        subscription.negotiated_fee = Decimal(rng.choice(catalog.NEGOTIATED_ENTERPRISE_FEES))
    elif plan != "free" and rng.random() < DISCOUNT_SHARE:
        subscription.discount_pct = rng.choice(catalog.DISCOUNT_PERCENTAGES)
    return subscription


def _draw_features(rng: random.Random, customer: Customer) -> None:
    top_rank = max(PLANS[subscription.plan_id].rank for subscription in customer.subscriptions)
    features = []
    for name, feature in catalog.FEATURES.items():
        if feature.lowest_plan_rank > top_rank:
            continue
        if name != "support_chat" and rng.random() >= 0.7:
            continue
        features.append((name, rng.gammavariate(2.0, 1.0)))
    customer.features = tuple(features)


def _draw_accounts(
    options: DemoOptions,
) -> tuple[list[SubAccountIds], dict[tuple[str, str], ApiKey]]:
    rng = random.Random(f"{options.seed}:accounts")
    opened = dt.datetime.combine(options.first_day, dt.time(), tzinfo=dt.UTC)
    sub_accounts = []
    api_keys: dict[tuple[str, str], ApiKey] = {}
    for account in catalog.SUB_ACCOUNTS:
        created_at = opened - dt.timedelta(days=rng.randint(200, 500), seconds=rng.randrange(86400))
        if account.slug is None:
            sub_account_id = None
        elif account.provider == OPENAI:
            sub_account_id = "proj_" + random_base62(rng, 24)
        else:
            sub_account_id = "wrkspc_01" + random_base62(rng, 22)
        color = f"#{rng.getrandbits(24):06x}"
        sub_accounts.append(
            SubAccountIds(account.provider, sub_account_id, account.name, created_at, color)
        )
        for key_name in account.key_names:
            if account.provider == OPENAI:
                key_id = "key_" + random_base62(rng, 16)
                owner_id = "svc_acct_" + random_base62(rng, 24)
            else:
                key_id = "apikey_01" + random_base62(rng, 22)
                owner_id = "user_01" + random_base62(rng, 22)
            key_created = created_at + dt.timedelta(days=rng.randint(1, 60))
            api_keys[(account.provider, key_name)] = ApiKey(
                provider=account.provider,
                key_id=key_id,
                name=key_name,
                sub_account_id=sub_account_id,
                sub_account_name=account.name,
                created_at=key_created,
                owner_id=owner_id,
                hint=random_base62(rng, 7),
            )
    if sorted({key.provider for key in api_keys.values()}) != sorted((ANTHROPIC, OPENAI)):
        raise ValueError("the catalog must define keys for both providers")
    return sub_accounts, api_keys


def daily_volume_factors(options: DemoOptions) -> list[float]:
    """Return each day's trend and weekday factor, scaled so that their mean is exactly 1.

    The trend grows linearly from 0.85 to 1.15 over the period (the company grows).
    """
    raw = []
    for index in range(options.days):
        day = options.first_day + dt.timedelta(days=index)
        trend = 0.85 + 0.3 * index / max(1, options.days - 1)
        raw.append(trend * catalog.WEEKDAY_FACTORS[day.weekday()])
    mean = math.fsum(raw) / len(raw)
    return [value / mean for value in raw]
