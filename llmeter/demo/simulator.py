"""Generate the demo company's files: call logs, customers, invoices, provider view, ground truth.

`generate_demo(options, output)` writes the folder layout described in `llmeter/demo/__init__.py`.
The same options give byte-identical files: every random draw comes from `random.Random`
instances seeded from the seed and a fixed label, nothing reads the clock, and every file is
written in sorted order.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import statistics
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import genai_prices

from llmeter.demo import catalog
from llmeter.demo.calls import Call, CallFactory
from llmeter.demo.catalog import ANTHROPIC, OPENAI, PLANS
from llmeter.demo.company import Company, DemoOptions, build_company, complete_months, next_month
from llmeter.demo.ledger import (
    DAILY_COLUMNS,
    DEFAULT_WORKSPACE,
    BilledCost,
    Ledger,
    anthropic_cost_rows,
    canonical_tier,
    context_tier,
    decimal_text,
    openai_cost_rows,
)
from llmeter.demo.pricing import OUTPUT, PriceOracle
from llmeter.demo.writer import (
    MANIFEST,
    call_record,
    prepare_output,
    write_csv,
    write_json,
    write_lookups,
    write_ndjson,
)

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
INVOICE_TAX_RATE = Decimal("0.0825")
OPENAI_FIRST_MONTH_CREDIT = Decimal("25.00")
ANTHROPIC_SECOND_MONTH_CREDIT = Decimal("10.00")

__all__ = ["DemoOptions", "DemoSummary", "generate_demo"]


@dataclass(frozen=True)
class DemoSummary:
    """Counts and period of one generation."""

    output: Path
    first_day: dt.date
    last_day: dt.date
    customers: int
    subscriptions: int
    calls_tagged: int
    calls_untagged: int
    late_records: int
    invoices: int


def generate_demo(options: DemoOptions, output: Path) -> DemoSummary:
    """Simulate the demo company with `options` and write its files into `output`.

    Raises ValueError for invalid options, and LookupError when genai-prices does not know a
    catalog model.
    """
    company = build_company(options)
    oracle = PriceOracle()
    factory = CallFactory(company, oracle)
    ledger = Ledger()
    prepare_output(output)

    call_logs = output / "call_logs"
    late: list[Call] = []
    runaway_calls: list[Call] = []
    for index, day in enumerate(factory.days):
        calls = factory.day_calls(index)
        on_time: list[Call] = []
        next_late: list[Call] = []
        for call in calls:
            ledger.add(call)
            if call.customer_id is None:
                continue
            (next_late if call.is_late else on_time).append(call)
            if call.in_runaway_loop:
                runaway_calls.append(call)
        # A late record completed in the last minute of the day before and reached the spool
        # after midnight, so it opens the next day's file.
        log_file = call_logs / f"{day.isoformat()}.ndjson"
        write_ndjson(log_file, map(call_record, late + on_time))
        # The file is closed five minutes after its day ends, as a spool would close it. A fixed
        # time keeps a regenerated, identical file from looking changed to the loader.
        closed_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 5), tzinfo=dt.UTC)
        os.utime(log_file, (closed_at.timestamp(), closed_at.timestamp()))
        late = next_late
    if late:
        raise AssertionError("a late record on the last day would have no file to go to")

    billed = ledger.billed_costs(oracle)
    provider = output / "provider"
    write_ndjson(provider / "openai_usage.ndjson", ledger.openai_usage_rows())
    write_ndjson(provider / "openai_costs.ndjson", openai_cost_rows(billed))
    write_ndjson(provider / "anthropic_usage.ndjson", ledger.anthropic_usage_rows())
    write_ndjson(provider / "anthropic_costs.ndjson", anthropic_cost_rows(billed))
    write_lookups(provider, company, ledger.key_last_used_ms)

    _write_customers(output / "customers", company)
    invoices = _write_invoices(output / "invoices" / "invoices.csv", company, billed)
    ground_truth = output / "ground_truth"
    _write_customer_costs(ground_truth, ledger)
    _write_provider_truth(ground_truth, ledger, billed)
    write_json(
        ground_truth / "events.json",
        _events(company, factory, oracle, ledger, runaway_calls),
    )

    summary = DemoSummary(
        output=output,
        first_day=options.first_day,
        last_day=options.last_day,
        customers=len(company.customers),
        subscriptions=len(company.subscriptions),
        calls_tagged=ledger.calls_tagged,
        calls_untagged=ledger.calls_untagged,
        late_records=ledger.late_records,
        invoices=invoices,
    )
    write_json(output / MANIFEST, _manifest(options, summary, len(factory.days)))
    logger.info(
        "Demo written to %s: %s customers, %s tagged and %s untagged calls",
        output,
        summary.customers,
        summary.calls_tagged,
        summary.calls_untagged,
    )
    return summary


def _write_customers(folder: Path, company: Company) -> None:
    write_csv(
        folder / "customers.csv",
        ("customer_id", "customer_name", "created_date"),
        (
            (customer.customer_id, customer.name, customer.created_date.isoformat())
            for customer in company.customers
        ),
    )
    write_csv(
        folder / "subscriptions.csv",
        (
            "subscription_id",
            "customer_id",
            "plan_id",
            "start_date",
            "end_date",
            "negotiated_fee",
            "discount_pct",
        ),
        (
            (
                subscription.subscription_id,
                subscription.customer_id,
                subscription.plan_id,
                subscription.start_date.isoformat(),
                subscription.end_date.isoformat() if subscription.end_date else None,
                subscription.negotiated_fee,
                subscription.discount_pct,
            )
            for subscription in company.subscriptions
        ),
    )


def _write_invoices(path: Path, company: Company, billed: list[BilledCost]) -> int:
    """Write one invoice per provider and complete calendar month of the period.

    The usage subtotal is the month's billed cost rounded to cents (ROUND_HALF_UP); tax is
    8.25% of the subtotal after credits.
    """
    options = company.options
    months = complete_months(options.first_day, options.last_day)
    rng = random.Random(f"{options.seed}:invoices")
    prefixes = {OPENAI: f"{rng.getrandbits(32):08X}", ANTHROPIC: f"{rng.getrandbits(24):06X}"}
    rows = []
    for provider in (ANTHROPIC, OPENAI):
        for number, month in enumerate(months, start=1):
            month_end = next_month(month) - dt.timedelta(days=1)
            billed_usd = sum(
                (
                    cost.amount_usd
                    for cost in billed
                    if cost.provider == provider and month <= cost.day <= month_end
                ),
                Decimal(0),
            )
            subtotal = billed_usd.quantize(CENT, rounding=ROUND_HALF_UP)
            credits = Decimal("0.00")
            if provider == OPENAI and number == 1:
                credits = min(OPENAI_FIRST_MONTH_CREDIT, subtotal)
            if provider == ANTHROPIC and number == 2:
                credits = min(ANTHROPIC_SECOND_MONTH_CREDIT, subtotal)
            tax = ((subtotal - credits) * INVOICE_TAX_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
            if provider == OPENAI:
                invoice_id = f"{prefixes[provider]}-{number:04d}"
            else:
                invoice_id = f"INV-{month:%Y%m}-{prefixes[provider]}"
            rows.append(
                (
                    provider,
                    invoice_id,
                    month.isoformat(),
                    month_end.isoformat(),
                    "USD",
                    subtotal,
                    credits,
                    tax,
                    subtotal - credits + tax,
                )
            )
    return write_csv(
        path,
        (
            "provider",
            "invoice_id",
            "period_start_date",
            "period_end_date",
            "currency",
            "usage_subtotal",
            "credits",
            "tax",
            "total",
        ),
        rows,
    )


def _write_customer_costs(folder: Path, ledger: Ledger) -> None:
    write_csv(
        folder / "customer_daily_costs.csv",
        ("customer_id", "usage_date", "provider", "model", *DAILY_COLUMNS, "list_cost_usd"),
        (
            (
                customer_id,
                day.isoformat(),
                provider,
                model,
                *ledger.customer_daily[key],
                decimal_text(ledger.customer_daily_cost[key]),
            )
            for key in sorted(ledger.customer_daily)
            for customer_id, day, provider, model in (key,)
        ),
    )
    write_csv(
        folder / "untagged_daily_costs.csv",
        ("usage_date", "provider", "model", *DAILY_COLUMNS, "list_cost_usd"),
        (
            (
                day.isoformat(),
                provider,
                model,
                *ledger.untagged_daily[key],
                decimal_text(ledger.untagged_daily_cost[key]),
            )
            for key in sorted(ledger.untagged_daily)
            for day, provider, model in (key,)
        ),
    )


def _write_provider_truth(folder: Path, ledger: Ledger, billed: list[BilledCost]) -> None:
    """Write the provider's usage and billed cost at the grain of the intermediate models.

    Rows whose quantity is 0 are left out. OpenAI's usage does not separate long-context
    tokens, so its usage rows all have context tier `standard`; its cost line items do.
    """
    usage: dict[tuple[str, ...], int] = {}

    def add(key: tuple[str, ...], quantity: int) -> None:
        if quantity:
            usage[key] = usage.get(key, 0) + quantity

    for (day, project, _key, model, batch), values in ledger.openai_usage.items():
        _, cached, cache_write, uncached, output, _ = values
        base = (OPENAI, day.isoformat(), model)
        tiers = (canonical_tier(batch), "standard", project)
        add((*base, "input_uncached", *tiers, "tokens"), uncached)
        add((*base, "cache_read", *tiers, "tokens"), cached)
        add((*base, "cache_write_5m", *tiers, "tokens"), cache_write)
        add((*base, "output", *tiers, "tokens"), output)
    for (day, project, _key, model), (_, searches) in ledger.openai_web.items():
        web = (
            OPENAI,
            day.isoformat(),
            model,
            "web_search_request",
            "standard",
            "standard",
            project,
        )
        add((*web, "requests"), searches)
    for (day, _key, workspace, model, batch, long), values in ledger.anthropic_usage.items():
        uncached, read, write_5m, write_1h, output, searches = values
        base = (ANTHROPIC, day.isoformat(), model)
        tiers = (canonical_tier(batch), context_tier(long), workspace or DEFAULT_WORKSPACE)
        add((*base, "input_uncached", *tiers, "tokens"), uncached)
        add((*base, "cache_read", *tiers, "tokens"), read)
        add((*base, "cache_write_5m", *tiers, "tokens"), write_5m)
        add((*base, "cache_write_1h", *tiers, "tokens"), write_1h)
        add((*base, "output", *tiers, "tokens"), output)
        add((*base, "web_search_request", *tiers, "requests"), searches)
    write_csv(
        folder / "provider_usage_daily.csv",
        (
            "provider",
            "usage_date",
            "model",
            "price_component",
            "service_tier",
            "context_tier",
            "sub_account_id",
            "quantity_unit",
            "quantity",
        ),
        ((*key, usage[key]) for key in sorted(usage)),
    )

    costs: dict[tuple[str, ...], list[Any]] = {}
    for cost in billed:
        if cost.provider == OPENAI:
            sub_account = cost.sub_account_id or ""
        else:
            sub_account = cost.sub_account_id or DEFAULT_WORKSPACE
        key = (
            cost.provider,
            cost.day.isoformat(),
            cost.model or "",
            cost.component,
            canonical_tier(cost.is_batch),
            context_tier(cost.is_long),
            sub_account,
            cost.line_item,
        )
        total = costs.setdefault(key, [None, Decimal(0)])
        if cost.quantity is not None:
            total[0] = (total[0] or 0) + cost.quantity
        total[1] += cost.amount_usd
    write_csv(
        folder / "provider_costs_daily.csv",
        (
            "provider",
            "usage_date",
            "model",
            "price_component",
            "service_tier",
            "context_tier",
            "sub_account_id",
            "line_item",
            "quantity",
            "billed_cost_usd",
        ),
        ((*key, costs[key][0], decimal_text(costs[key][1])) for key in sorted(costs)),
    )


def _events(
    company: Company,
    factory: CallFactory,
    oracle: PriceOracle,
    ledger: Ledger,
    runaway_calls: list[Call],
) -> dict[str, Any]:
    options = company.options
    events = company.events
    daily_calls: dict[str, dict[dt.date, int]] = {}
    monthly_cost: dict[tuple[str, dt.date], Decimal] = {}
    models_by_month: dict[tuple[str, dt.date], set[str]] = {}
    for (customer_id, day, _provider, model), values in ledger.customer_daily.items():
        per_day = daily_calls.setdefault(customer_id, {})
        per_day[day] = per_day.get(day, 0) + values[0]
        month_key = (customer_id, day.replace(day=1))
        monthly_cost[month_key] = (
            monthly_cost.get(month_key, Decimal(0))
            + (ledger.customer_daily_cost[(customer_id, day, _provider, model)])
        )
        models_by_month.setdefault(month_key, set()).add(model)

    runaway_days = daily_calls.get(events.runaway_customer_id, {})
    runaway_counts = [runaway_days.get(day, 0) for day in factory.days]
    stopped_days = sorted(daily_calls.get(events.stopped_customer_id, {}))
    listed: list[dict[str, Any]] = [
        {
            "event": "runaway_loop",
            "anomaly_type": "cost_spike",
            "driver": "call_volume",
            "customer_id": events.runaway_customer_id,
            "date": events.runaway_date.isoformat(),
            "feature": runaway_calls[0].feature if runaway_calls else None,
            "models": sorted({call.spec.model for call in runaway_calls}),
            "loop_calls": len(runaway_calls),
            "calls_on_date": runaway_days.get(events.runaway_date, 0),
            "median_daily_calls": statistics.median(runaway_counts),
        },
        {
            "event": "usage_stopped",
            "anomaly_type": "cost_drop",
            "driver": "call_volume",
            "customer_id": events.stopped_customer_id,
            "date": events.stop_date.isoformat(),
            "last_call_date": stopped_days[-1].isoformat() if stopped_days else None,
        },
    ]

    for spec in sorted(catalog.MODELS.values(), key=lambda s: (s.provider, s.model)):
        for change in oracle.price_changes(
            spec.provider, spec.model, options.first_day, options.last_day
        ):
            entry: dict[str, Any] = {"event": "price_change"}
            if change.model == catalog.PRICE_CHANGE_MODEL:
                # Every call of this customer goes to the model, so its cost shows the change.
                entry.update(
                    anomaly_type="cost_drop"
                    if change.old[OUTPUT] > change.new[OUTPUT]
                    else "cost_spike",
                    driver="price_change",
                    customer_id=events.price_change_customer_id,
                )
            listed.append(
                {
                    **entry,
                    "provider": change.provider,
                    "model": change.model,
                    "date": change.date.isoformat(),
                    "price_unit": "USD per million tokens; web_search_request per thousand",
                    "old_prices_usd": {k: decimal_text(v) for k, v in change.old.items()},
                    "new_prices_usd": {k: decimal_text(v) for k, v in change.new.items()},
                }
            )

    month = events.unprofitable_month
    if month is None:
        logger.warning(
            "No complete calendar month with a week of history before it in %s to %s; the "
            "turned_unprofitable event is left out",
            options.first_day,
            options.last_day,
        )
    else:
        customer_id = events.unprofitable_customer_id
        previous = (month - dt.timedelta(days=1)).replace(day=1)
        cost = monthly_cost.get((customer_id, month), Decimal(0))
        revenue = PLANS["starter"].fee
        if cost <= revenue:
            logger.warning(
                "Customer %s costs %s USD in %s, not more than its revenue %s USD",
                customer_id,
                cost,
                month,
                revenue,
            )
        listed.append(
            {
                "event": "turned_unprofitable",
                "customer_id": customer_id,
                "month": f"{month:%Y-%m}",
                "date": month.isoformat(),
                "plan_id": "starter",
                "from_models": sorted(models_by_month.get((customer_id, previous), set())),
                "to_model": catalog.DEAR_MODEL,
                "revenue_usd": decimal_text(revenue),
                "list_cost_usd": decimal_text(cost),
                "previous_month": f"{previous:%Y-%m}",
                "previous_month_list_cost_usd": decimal_text(
                    monthly_cost.get((customer_id, previous), Decimal(0))
                ),
            }
        )
    return {
        "period": {
            "first_date": options.first_day.isoformat(),
            "last_date": options.last_day.isoformat(),
            "as_of_date": options.as_of.isoformat(),
        },
        "events": listed,
    }


def _manifest(options: DemoOptions, summary: DemoSummary, call_log_files: int) -> dict[str, Any]:
    return {
        "generator": "llmeter demo",
        "genai_prices_version": genai_prices.__version__,
        "options": {
            "customers": options.customers,
            "days": options.days,
            "calls_per_day": options.calls_per_day,
            "mean_calls_per_day": options.mean_calls_per_day,
            "as_of": options.as_of.isoformat(),
            "seed": options.seed,
        },
        "period": {
            "first_date": summary.first_day.isoformat(),
            "last_date": summary.last_day.isoformat(),
            "as_of_date": options.as_of.isoformat(),
        },
        "counts": {
            "customers": summary.customers,
            "subscriptions": summary.subscriptions,
            "calls_tagged": summary.calls_tagged,
            "calls_untagged": summary.calls_untagged,
            "calls_total": summary.calls_tagged + summary.calls_untagged,
            "late_records": summary.late_records,
            "call_log_files": call_log_files,
            "invoices": summary.invoices,
        },
    }
