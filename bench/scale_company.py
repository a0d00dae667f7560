"""Make a demo company N times larger by repeating each call, without running the simulator.

The simulator (`llmeter demo --generate-only`) wrote 1.01 million calls in 240 s on a busy
2-core machine (BENCHMARKS.md), so 10 million calls would take about 40 minutes, an estimate
from that one run. This module writes the same company with every call repeated `factor`
times instead:

- each call-log line is written `factor` times; copy k > 0 gets a new `event_id` (its last
  three hex digits increased by k, modulo 16**3) and a `request_id` with the suffix `_k`, so
  every copy is a distinct call with the same time, customer, model and token counts;
- every integer quantity of the provider view (tokens, requests, quantity) and every amount
  (`amount_usd`, `amount_cents`, exact decimal strings) is multiplied by `factor`, so the
  provider's usage and billed cost are the sum of the repeated calls' exactly as before;
- each invoice's usage subtotal and tax are multiplied by `factor`, its total recomputed;
- customers, subscriptions and the list APIs' objects are copied unchanged.

The result has the simulator's customers, days, models and record format, with `factor` times
the calls on each customer day. `ground_truth/` is not written.
"""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

EVENT_ID_START = len('{"event_id":"')
UUID_LENGTH = 36
REQUEST_ID_KEY = '"request_id":"'
AMOUNT_FIELDS = ("amount_usd", "amount_cents")
PROVIDER_DATA_FILES = (
    "openai_usage.ndjson",
    "openai_costs.ndjson",
    "anthropic_usage.ndjson",
    "anthropic_costs.ndjson",
)
MAX_FACTOR = 0xFFF


def repeat_call_line(line: str, copy: int) -> str:
    """Return copy `copy` of one call-log line: a new event_id and request_id, same call."""
    if copy == 0:
        return line
    if not line.startswith('{"event_id":"'):
        raise ValueError(f"call-log line does not start with event_id: {line[:80]}")
    end = EVENT_ID_START + UUID_LENGTH
    # Adding the copy number modulo 16**3 keeps every copy distinct from the original too,
    # which replacing the digits by the copy number would not for an id ending in it.
    suffix = (int(line[end - 3 : end], 16) + copy) % (MAX_FACTOR + 1)
    line = f"{line[: end - 3]}{suffix:03x}{line[end:]}"
    start = line.find(REQUEST_ID_KEY)
    if start >= 0:
        close = line.index('"', start + len(REQUEST_ID_KEY))
        line = f"{line[:close]}_{copy}{line[close:]}"
    return line


def scale_record(value: Any, factor: int) -> Any:
    """Multiply every integer and every amount string of a provider record by `factor`."""
    if isinstance(value, dict):
        return {
            key: (
                str(Decimal(item) * factor)
                if key in AMOUNT_FIELDS and isinstance(item, str)
                else scale_record(item, factor)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scale_record(item, factor) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return value * factor
    return value


def scale_call_logs(source: Path, target: Path, factor: int) -> int:
    """Write every call-log file of `source` with each line repeated; return the lines written."""
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(source.glob("*.ndjson")):
        with (
            path.open(encoding="utf-8") as reader,
            (target / path.name).open("w", encoding="utf-8") as writer,
        ):
            for line in reader:
                writer.writelines(repeat_call_line(line, copy) for copy in range(factor))
                written += factor
    return written


def scale_provider_file(source: Path, target: Path, factor: int) -> None:
    with source.open(encoding="utf-8") as reader, target.open("w", encoding="utf-8") as writer:
        for line in reader:
            record = json.loads(line)
            writer.write(json.dumps(scale_record(record, factor), separators=(",", ":")) + "\n")


def scale_invoices(source: Path, target: Path, factor: int) -> None:
    with source.open(newline="", encoding="utf-8") as reader:
        rows = list(csv.DictReader(reader))
        fields = list(rows[0]) if rows else []
    for row in rows:
        subtotal = Decimal(row["usage_subtotal"]) * factor
        tax = Decimal(row["tax"]) * factor
        row["usage_subtotal"] = str(subtotal)
        row["tax"] = str(tax)
        row["total"] = str(subtotal - Decimal(row["credits"]) + tax)
    with target.open("w", newline="", encoding="utf-8") as writer:
        output = csv.DictWriter(writer, fieldnames=fields)
        output.writeheader()
        output.writerows(rows)


def scale_company(source: Path, target: Path, factor: int) -> int:
    """Write the company of `source` with every call repeated `factor` times into `target`.

    Returns the call-log lines written. Raises ValueError when `factor` is not between 1 and
    4095, because three hex digits of an event_id number at most 4096 distinct copies.
    """
    if not 1 <= factor <= MAX_FACTOR:
        raise ValueError(f"factor must be between 1 and {MAX_FACTOR}, got {factor}")
    shutil.rmtree(target, ignore_errors=True)
    (target / "provider").mkdir(parents=True)
    (target / "invoices").mkdir()
    shutil.copytree(source / "customers", target / "customers")
    for path in (source / "provider").iterdir():
        if path.name in PROVIDER_DATA_FILES:
            scale_provider_file(path, target / "provider" / path.name, factor)
        else:
            shutil.copy2(path, target / "provider" / path.name)
    invoices = Path("invoices") / "invoices.csv"
    scale_invoices(source / invoices, target / invoices, factor)
    written = scale_call_logs(source / "call_logs", target / "call_logs", factor)

    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    manifest["scaled"] = {"source": str(source), "factor": factor}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return written
