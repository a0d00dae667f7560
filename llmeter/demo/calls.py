"""The demo company's LLM calls, one UTC day at a time.

Each day draws its calls from its own `random.Random` seeded with the demo seed and the date,
so a day's calls do not depend on how many random numbers earlier days used.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

from llmeter.demo import catalog
from llmeter.demo.catalog import ANTHROPIC, OPENAI, PLANS, Feature, ModelSpec
from llmeter.demo.company import (
    BASE62,
    RUNAWAY_MULTIPLIER,
    UNPROFITABLE_COST_TO_REVENUE,
    UNTAGGED_SHARE_RANGE,
    ApiKey,
    Company,
    Customer,
    daily_volume_factors,
    next_month,
)
from llmeter.demo.pricing import (
    CACHE_READ,
    CACHE_WRITE_1H,
    CACHE_WRITE_5M,
    INPUT_UNCACHED,
    OUTPUT,
    WEB_SEARCH_REQUEST,
    PriceOracle,
    UnitPrices,
)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

MAX_STANDARD_INPUT = 150_000
"""Largest total input of a call that is not meant to be long-context."""
MAX_DEAR_INPUT = 190_000
OPENAI_CACHE_MINIMUM = 1024
OPENAI_CACHE_INCREMENT = 128
DAY_EFFECT_CV = 0.1
"""Coefficient of variation of a customer's day effect: how much all of its users together
call more or less than usual on a day (a launch, a holiday, a busy week)."""
NORMAL_POISSON_MEAN = 50.0
"""Mean from which a Poisson count is drawn from its normal approximation."""
LONG_CONTEXT_MIN_DAILY_CALLS = 10.0
"""Expected long-context calls per day from which a customer sends them with a feature at all."""
DEAR_ESTIMATE_SAMPLES = 400
MAX_DEAR_SCALE = 12.0
BATCH_HOURS = (0, 6)
"""UTC hours in which batch results complete (the batches run overnight)."""
RUNAWAY_HOURS = (1, 11)
EVALS_HOURS = (1, 4)
LATE_FRACTIONS = (0.3, 0.55, 0.8)
"""Positions in the period of the days whose last call reaches the log a day late."""


@dataclass(slots=True)
class Call:
    """One LLM call, tagged with a customer or (customer_id None) an untagged background job."""

    event_id: str
    occurred_ms: int
    """Completion time in milliseconds since the Unix epoch (UTC)."""
    day: dt.date
    spec: ModelSpec
    customer_id: str | None
    feature: str
    input_uncached: int
    cache_read: int
    cache_write_5m: int
    cache_write_1h: int
    output: int
    reasoning: int
    web_searches: int
    is_batch: bool
    is_long: bool
    api_key: ApiKey
    request_id: str
    latency_ms: int | None
    offset_minutes: int | None
    """Offset to write `occurred_at` in; None writes UTC with `Z`."""
    cost: Decimal = Decimal(0)
    is_late: bool = False
    """Written to the next day's call log file (a late-arriving record)."""
    in_runaway_loop: bool = False

    @property
    def total_input(self) -> int:
        return self.input_uncached + self.cache_read + self.cache_write_5m + self.cache_write_1h

    @property
    def tokens(self) -> tuple[int, int, int, int, int, int]:
        return (
            self.input_uncached,
            self.cache_read,
            self.cache_write_5m,
            self.cache_write_1h,
            self.output,
            self.web_searches,
        )

    @property
    def occurred_at(self) -> dt.datetime:
        return EPOCH + dt.timedelta(milliseconds=self.occurred_ms)


@dataclass(frozen=True)
class FeatureChoice:
    """The features a customer uses on its current plan, for `random.choices`."""

    features: list[Feature]
    cumulative: list[float]
    main: Feature
    """The most used feature, which a runaway loop repeats."""


def format_instant(occurred_ms: int, offset_minutes: int | None) -> str:
    """Format an instant as RFC 3339 with milliseconds, in UTC (`Z`) or at an offset."""
    utc = EPOCH + dt.timedelta(milliseconds=occurred_ms)
    milliseconds = occurred_ms % 1000
    if offset_minutes is None:
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{milliseconds:03d}Z"
    local = utc + dt.timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{milliseconds:03d}{sign}{hours:02d}:{minutes:02d}"


def poisson(rng: random.Random, mean: float) -> int:
    """Draw a Poisson count: exactly for small means, from the normal approximation above
    NORMAL_POISSON_MEAN (where its error is far below the demo's other noise)."""
    if mean <= 0:
        return 0
    if mean >= NORMAL_POISSON_MEAN:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def daily_count(rng: random.Random, expected: float, scheduled: bool) -> int:
    """Draw a customer's number of calls on a day whose expected volume is `expected`.

    Many end users call independently, so the count is Poisson around the expected volume
    times the customer's day effect (gamma, mean 1, DAY_EFFECT_CV): a small customer's count
    varies by about 1/sqrt(expected), a large one's by about DAY_EFFECT_CV. A scheduled job
    sends the expected volume.
    """
    if scheduled:
        return stochastic_round(rng, expected)
    shape = 1 / DAY_EFFECT_CV**2
    return poisson(rng, expected * rng.gammavariate(shape, 1 / shape))


def stochastic_round(rng: random.Random, value: float) -> int:
    """Round `value` up with probability equal to its fraction, so the mean stays `value`."""
    whole = math.floor(value)
    return whole + (1 if rng.random() < value - whole else 0)


class CallFactory:
    """Draws each day's calls for the company's customers and background jobs."""

    def __init__(self, company: Company, oracle: PriceOracle) -> None:
        self.company = company
        self.oracle = oracle
        options = company.options
        self.days = [options.first_day + dt.timedelta(days=i) for i in range(options.days)]
        self.factors = daily_volume_factors(options)
        mean_weekday = math.fsum(catalog.WEEKDAY_FACTORS) / len(catalog.WEEKDAY_FACTORS)
        self.weekday_factors = [
            catalog.WEEKDAY_FACTORS[day.weekday()] / mean_weekday for day in self.days
        ]
        self.plans = {
            customer.customer_id: [customer.plan_on(day) for day in self.days]
            for customer in company.customers
        }
        self._feature_choices: dict[tuple[str, int], FeatureChoice] = {}
        self._hour_weights: dict[int, list[float]] = {}

        tagged_per_day = options.mean_calls_per_day / (1 + sum(UNTAGGED_SHARE_RANGE) / 2)
        fixed = sum(c.fixed_daily_calls or 0.0 for c in company.customers)
        raw = [
            math.fsum(
                self._base_volume(customer, index)
                for customer in company.customers
                if customer.fixed_daily_calls is None
            )
            for index in range(len(self.days))
        ]
        mean_raw = math.fsum(raw) / len(raw)
        self.volume_scale = max(0.0, tagged_per_day - fixed) / mean_raw if mean_raw else 0.0
        self.long_context_features = {
            customer.customer_id: self._long_context_features(customer)
            for customer in company.customers
        }

        events = company.events
        self.dear_from = events.unprofitable_month
        self.dear_scale = self._dear_scale() if self.dear_from is not None else 1.0
        self.late_days = {
            self.days[round(fraction * (len(self.days) - 1))]
            for fraction in LATE_FRACTIONS
            if round(fraction * (len(self.days) - 1)) < len(self.days) - 1
        }

    def _base_volume(self, customer: Customer, index: int) -> float:
        plan = self.plans[customer.customer_id][index]
        if plan is None:
            return 0.0
        if customer.fixed_daily_calls is not None:
            return customer.fixed_daily_calls
        # A new customer ramps up over its first two weeks.
        age = (self.days[index] - customer.created_date).days
        ramp = min(1.0, 0.3 + 0.7 * age / 14) if customer.signed_up_in_period else 1.0
        return customer.size * PLANS[plan].volume_factor * ramp

    def _long_context_features(self, customer: Customer) -> frozenset[str]:
        """Return the features with which the customer sends long-context calls.

        Long-context calls cost dollars each, so they belong to customers that send them every
        day (long documents are their business): a customer sends them with a feature only if
        it expects at least LONG_CONTEXT_MIN_DAILY_CALLS of them on an average day.
        """
        mean_calls = math.fsum(
            self.expected_calls(customer, index) for index in range(len(self.days))
        ) / len(self.days)
        total_weight = math.fsum(weight for _, weight in customer.features)
        chosen = set()
        for name, weight in customer.features:
            share = catalog.customer_feature(name).long_context_probability
            if share > 0 and mean_calls * weight / total_weight * share >= (
                LONG_CONTEXT_MIN_DAILY_CALLS
            ):
                chosen.add(name)
        return frozenset(chosen)

    def expected_calls(self, customer: Customer, index: int) -> float:
        """Return the customer's mean number of calls on the period's day `index`."""
        if customer.stop_date is not None and self.days[index] >= customer.stop_date:
            return 0.0
        base = self._base_volume(customer, index)
        if customer.fixed_daily_calls is None:
            base *= self.volume_scale
        if customer.scheduled:
            return base * self.weekday_factors[index]
        return base * self.factors[index]

    def day_calls(self, index: int) -> list[Call]:
        """Draw, price and sort the calls that complete on the period's day `index`."""
        day = self.days[index]
        options = self.company.options
        rng = random.Random(f"{options.seed}:calls:{day.isoformat()}")
        day_start_ms = (dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) - EPOCH) // dt.timedelta(
            milliseconds=1
        )
        events = self.company.events
        calls: list[Call] = []
        for customer in self.company.customers:
            expected = self.expected_calls(customer, index)
            if expected <= 0:
                continue
            count = daily_count(rng, expected, customer.scheduled)
            plan = self.plans[customer.customer_id][index]
            assert plan is not None
            choice = self._features_of(customer, PLANS[plan].rank)
            dear = (
                customer.customer_id == events.unprofitable_customer_id
                and self.dear_from is not None
                and day >= self.dear_from
            )
            for feature in rng.choices(choice.features, cum_weights=choice.cumulative, k=count):
                calls.append(
                    self._customer_call(rng, day, day_start_ms, customer, feature, dear=dear)
                )
            if customer.customer_id == events.runaway_customer_id and day == events.runaway_date:
                # A retry loop repeats one request of the customer's main feature for hours,
                # always to the same model.
                extra = round((RUNAWAY_MULTIPLIER - 1) * expected)
                loop_spec = _choose_model(rng, choice.main)
                for _ in range(extra):
                    call = self._customer_call(
                        rng, day, day_start_ms, customer, choice.main, spec=loop_spec
                    )
                    call.in_runaway_loop = True
                    call.occurred_ms = day_start_ms + rng.randrange(
                        RUNAWAY_HOURS[0] * MS_PER_HOUR, RUNAWAY_HOURS[1] * MS_PER_HOUR
                    )
                    calls.append(call)

        untagged = round(len(calls) * rng.uniform(*UNTAGGED_SHARE_RANGE))
        jobs = list(catalog.BACKGROUND_JOBS.values())
        for job in rng.choices(jobs, weights=(0.4, 0.6), k=untagged):
            calls.append(self._background_call(rng, day, day_start_ms, job))

        if day in self.late_days:
            self._make_one_late(rng, day_start_ms, calls)

        calls.sort(key=lambda call: (call.occurred_ms, call.event_id))
        for call in calls:
            call.cost = self.oracle.call_cost(
                call.spec.provider, call.spec.model, call.occurred_at, call.tokens, call.is_batch
            )
        return calls

    def _make_one_late(self, rng: random.Random, day_start_ms: int, calls: list[Call]) -> None:
        candidates = [call for call in calls if call.customer_id is not None and not call.is_batch]
        if not candidates:
            return
        call = rng.choice(candidates)
        # Completed in the last minute of the day, spooled after midnight.
        call.occurred_ms = day_start_ms + MS_PER_DAY - 60_000 + rng.randrange(60_000)
        call.is_late = True

    def _features_of(self, customer: Customer, rank: int) -> FeatureChoice:
        cache_key = (customer.customer_id, rank)
        if cache_key not in self._feature_choices:
            allowed = [
                (catalog.customer_feature(name), weight)
                for name, weight in customer.features
                if catalog.customer_feature(name).lowest_plan_rank <= rank
            ] or [(catalog.FEATURES["support_chat"], 1.0)]
            self._feature_choices[cache_key] = FeatureChoice(
                features=[feature for feature, _ in allowed],
                cumulative=list(itertools.accumulate(weight for _, weight in allowed)),
                main=max(allowed, key=lambda item: item[1])[0],
            )
        return self._feature_choices[cache_key]

    def _utc_hour_weights(self, offset_minutes: int) -> list[float]:
        if offset_minutes not in self._hour_weights:
            self._hour_weights[offset_minutes] = list(
                itertools.accumulate(
                    catalog.LOCAL_HOUR_WEIGHTS[((hour * 60 + offset_minutes) // 60) % 24]
                    for hour in range(24)
                )
            )
        return self._hour_weights[offset_minutes]

    def _customer_call(
        self,
        rng: random.Random,
        day: dt.date,
        day_start_ms: int,
        customer: Customer,
        feature: Feature,
        dear: bool = False,
        spec: ModelSpec | None = None,
    ) -> Call:
        """Draw one call of `customer`; `spec` fixes the model, else the feature's mix picks it."""
        scale = 1.0
        if dear:
            spec = catalog.MODELS[catalog.DEAR_MODEL]
            scale = self.dear_scale
        elif spec is None:
            spec = _choose_model(rng, feature)
        long_context = feature.name in self.long_context_features[customer.customer_id]
        call = self._draw_call(rng, day, feature, spec, scale, long_context=long_context)
        call.customer_id = customer.customer_id
        if call.is_batch:
            call.occurred_ms = day_start_ms + rng.randrange(
                BATCH_HOURS[0] * MS_PER_HOUR, BATCH_HOURS[1] * MS_PER_HOUR
            )
        else:
            weights = self._utc_hour_weights(customer.offset_minutes)
            hour = rng.choices(range(24), cum_weights=weights)[0]
            call.occurred_ms = day_start_ms + hour * MS_PER_HOUR + rng.randrange(MS_PER_HOUR)
        call.offset_minutes = customer.offset_minutes if customer.writes_local_offset else None
        return call

    def _background_call(
        self, rng: random.Random, day: dt.date, day_start_ms: int, job: Feature
    ) -> Call:
        call = self._draw_call(rng, day, job, _choose_model(rng, job), 1.0)
        if job.name == "evals":
            start, end = EVALS_HOURS[0] * MS_PER_HOUR, EVALS_HOURS[1] * MS_PER_HOUR
        else:
            start, end = 0, MS_PER_DAY
        call.occurred_ms = day_start_ms + rng.randrange(start, end)
        return call

    def _draw_call(
        self,
        rng: random.Random,
        day: dt.date,
        feature: Feature,
        spec: ModelSpec,
        scale: float,
        long_context: bool = False,
    ) -> Call:
        """Draw the tokens of one call; the caller sets its customer and time.

        `long_context` lets the call exceed the model's long-context threshold with the
        feature's long_context_probability.
        """
        provider = spec.provider
        prices = self.oracle.unit_prices(provider, spec.model, day, batch=False)
        if prices is None or not (prices.has(INPUT_UNCACHED) and prices.has(OUTPUT)):
            raise ValueError(
                f"genai-prices has no input and output price for {spec.model} on {day}"
            )
        is_batch = False
        if feature.batch_share > 0 and rng.random() < feature.batch_share:
            batch_prices = self.oracle.unit_prices(provider, spec.model, day, batch=True)
            if batch_prices is not None:
                prices = batch_prices
                is_batch = True

        cap = MAX_DEAR_INPUT if scale > 1 else MAX_STANDARD_INPUT
        total_input = int(feature.input_median * scale * rng.lognormvariate(0, feature.input_sigma))
        total_input = min(max(total_input, 50), cap)
        is_long = False
        if (
            long_context
            and feature.long_context_probability > 0
            and prices.long_threshold_tokens is not None
            and rng.random() < feature.long_context_probability
        ):
            threshold = prices.long_threshold_tokens
            total_input = threshold + int(threshold * rng.uniform(0.02, 1.2))
            is_long = True

        cache_read, write_5m, write_1h = self._draw_cache(
            rng, feature, prices, provider, scale, total_input
        )
        input_uncached = total_input - cache_read - write_5m - write_1h

        output = int(feature.output_median * scale * rng.lognormvariate(0, feature.output_sigma))
        output = min(max(output, 1), 32_000)
        reasoning = 0
        if spec.reasoning:
            reasoning = int(output * rng.uniform(*feature.reasoning_share))
        web_searches = 0
        if (
            not is_batch
            and feature.web_search_probability > 0
            and prices.has(WEB_SEARCH_REQUEST)
            and rng.random() < feature.web_search_probability
        ):
            web_searches = rng.randint(1, feature.max_web_searches)

        latency_ms = None
        if not is_batch:
            latency_ms = int(350 + output * rng.uniform(8, 20) + total_input * 0.02)
        api_key_name = feature.openai_key if provider == OPENAI else feature.anthropic_key
        return Call(
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            occurred_ms=0,
            day=day,
            spec=spec,
            customer_id=None,
            feature=feature.name,
            input_uncached=input_uncached,
            cache_read=cache_read,
            cache_write_5m=write_5m,
            cache_write_1h=write_1h,
            output=output,
            reasoning=reasoning,
            web_searches=web_searches,
            is_batch=is_batch,
            is_long=is_long,
            api_key=self.company.api_keys[(provider, api_key_name)],
            request_id=_request_id(rng, provider, is_batch),
            latency_ms=latency_ms,
            offset_minutes=None,
        )

    @staticmethod
    def _draw_cache(
        rng: random.Random,
        feature: Feature,
        prices: UnitPrices,
        provider: str,
        scale: float,
        total_input: int,
    ) -> tuple[int, int, int]:
        """Return (cache_read, cache_write_5m, cache_write_1h) tokens of one call."""
        prefix = min(
            int(feature.prefix_tokens * scale * rng.uniform(0.8, 1.2)), int(total_input * 0.9)
        )
        draw = rng.random()
        if draw < feature.cache_read_probability and prices.has(CACHE_READ):
            if provider == OPENAI:
                # OpenAI caches prompts of 1,024 tokens or more, in 128-token increments.
                if prefix < OPENAI_CACHE_MINIMUM:
                    return 0, 0, 0
                prefix -= prefix % OPENAI_CACHE_INCREMENT
            return prefix, 0, 0
        if draw < feature.cache_read_probability + feature.cache_write_probability:
            one_hour = (
                provider == ANTHROPIC
                and prices.has(CACHE_WRITE_1H)
                and rng.random() < feature.one_hour_write_share
            )
            if one_hour:
                return 0, 0, prefix
            if prices.has(CACHE_WRITE_5M):
                return 0, prefix, 0
        return 0, 0, 0

    def _dear_scale(self) -> float:
        """Return the token scale that makes the unprofitable customer's month cost 3x its revenue.

        The cost per call at scale 1 is estimated from a sample of calls priced with
        genai-prices. Call cost grows linearly with the scale up to the input cap.
        """
        events = self.company.events
        assert events.unprofitable_month is not None
        customer = next(
            c for c in self.company.customers if c.customer_id == events.unprofitable_customer_id
        )
        month_end = next_month(events.unprofitable_month)
        expected = math.fsum(
            self.expected_calls(customer, index)
            for index, day in enumerate(self.days)
            if events.unprofitable_month <= day < month_end
        )
        # The customer is on the starter plan without a discount, and its calls stay within the
        # plan's included requests, so its revenue in the month is the plan fee.
        revenue = PLANS["starter"].fee
        target_per_call = UNPROFITABLE_COST_TO_REVENUE * revenue / Decimal(repr(max(expected, 1.0)))

        rng = random.Random(f"{self.company.options.seed}:dear-estimate")
        spec = catalog.MODELS[catalog.DEAR_MODEL]
        features = [catalog.customer_feature(name) for name, _ in customer.features] or [
            catalog.FEATURES["support_chat"]
        ]
        total = Decimal(0)
        for _ in range(DEAR_ESTIMATE_SAMPLES):
            call = self._draw_call(rng, events.unprofitable_month, rng.choice(features), spec, 1.0)
            total += self.oracle.call_cost(
                spec.provider,
                spec.model,
                dt.datetime.combine(call.day, dt.time(12), tzinfo=dt.UTC),
                call.tokens,
                call.is_batch,
            )
        mean_cost = total / DEAR_ESTIMATE_SAMPLES
        return min(max(float(target_per_call / mean_cost), 1.0), MAX_DEAR_SCALE)


def _choose_model(rng: random.Random, feature: Feature) -> ModelSpec:
    names = [name for name, _ in feature.models]
    weights = [weight for _, weight in feature.models]
    return catalog.MODELS[rng.choices(names, weights=weights)[0]]


def _request_id(rng: random.Random, provider: str, is_batch: bool) -> str:
    if provider == OPENAI:
        if is_batch:
            return f"batch_req_{rng.getrandbits(128):032x}"
        return f"resp_{rng.getrandbits(192):048x}"
    number = rng.getrandbits(128)
    characters = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        characters.append(BASE62[digit])
    return "msg_01" + "".join(characters)
