"""Read and write `seeds/model_prices.csv`, and merge a new genai-prices reading into its history.

The seed is the record of which price was in force when. A refresh on day D keeps every row as
it is up to D and takes the prices from D onwards from genai-prices:

- a price that is unchanged at D keeps its row (and its original `source`);
- a price that changed is closed at D 00:00:00 UTC and a new row opens at D;
- a price that genai-prices no longer has is closed at D;
- a price key never seen before (a new model, component, tier or threshold) gets the whole
  timeline genai-prices gives it, from the start of the history;
- changes that genai-prices dates after D (announced price changes) are kept as dated.

A change that genai-prices dates before D but that the seed does not have yet is recorded at D,
because the seed, not genai-prices, is the record of what this warehouse has priced with.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from llmeter.prices.catalog import PriceRow

SEED_COLUMNS = (
    "provider",
    "model",
    "price_component",
    "service_tier",
    "tier_threshold_tokens",
    "price_usd",
    "unit",
    "valid_from_at",
    "valid_to_at",
    "source",
)
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
PRICE_QUANTUM = Decimal("1e-12")
"""The seed's prices are DECIMAL(38, 12); a price with more decimal places is rejected."""


def format_price(price: Decimal) -> str:
    """Write a price in plain fixed-point notation with no trailing zeros ("2.5", "10")."""
    if not price.is_finite() or price < 0:
        raise ValueError(f"invalid price {price!r}: expected a finite non-negative decimal")
    if price != price.quantize(PRICE_QUANTUM):
        raise ValueError(f"price {price} has more than 12 decimal places, the seed's precision")
    text = format(price.normalize(), "f")
    return text


def _format_timestamp(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime(TIMESTAMP_FORMAT)


def _parse_timestamp(text: str) -> dt.datetime | None:
    return dt.datetime.strptime(text, TIMESTAMP_FORMAT) if text else None


def sort_key(row: PriceRow) -> tuple[str, str, str, str, int, dt.datetime]:
    """Return the seed's sort key: the price's identity, then its start."""
    return (*row.key, row.valid_from_at)


def write_price_seed(rows: Iterable[PriceRow]) -> str:
    """Write the price seed as CSV text: sorted rows, Unix newlines, no float formatting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SEED_COLUMNS)
    for row in sorted(rows, key=sort_key):
        writer.writerow(
            [
                row.provider,
                row.model,
                row.price_component,
                row.service_tier,
                str(row.tier_threshold_tokens),
                format_price(row.price_usd),
                row.unit,
                _format_timestamp(row.valid_from_at),
                _format_timestamp(row.valid_to_at),
                row.source,
            ]
        )
    return buffer.getvalue()


def read_price_seed(path: Path) -> list[PriceRow]:
    """Read the rows of an existing price seed. An absent file has none.

    Raises:
        ValueError: the file's header is not the seed's columns, or a row is invalid.
    """
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as seed_file:
        reader = csv.DictReader(seed_file)
        if tuple(reader.fieldnames or ()) != SEED_COLUMNS:
            raise ValueError(
                f"{path} has the columns {reader.fieldnames}; expected {list(SEED_COLUMNS)}"
            )
        rows = []
        for line_number, record in enumerate(reader, start=2):
            try:
                valid_from_at = _parse_timestamp(record["valid_from_at"])
                if valid_from_at is None:
                    raise ValueError("valid_from_at is empty")
                rows.append(
                    PriceRow(
                        provider=record["provider"],
                        model=record["model"],
                        price_component=record["price_component"],
                        service_tier=record["service_tier"],
                        tier_threshold_tokens=int(record["tier_threshold_tokens"]),
                        valid_from_at=valid_from_at,
                        valid_to_at=_parse_timestamp(record["valid_to_at"]),
                        price_usd=Decimal(record["price_usd"]),
                        unit=record["unit"],
                        source=record["source"],
                    )
                )
            except (ArithmeticError, ValueError) as error:
                raise ValueError(f"{path}, line {line_number}: invalid row: {error}") from error
    return rows


def _merge_key(
    recorded: list[PriceRow], generated: list[PriceRow], refresh_at: dt.datetime
) -> list[PriceRow]:
    """Merge one price key's recorded rows with genai-prices' rows at the refresh instant."""
    if not recorded:
        return generated

    # The recorded history up to the refresh instant; a row still open then is cut there.
    head: list[PriceRow] = []
    for row in sorted(recorded, key=sort_key):
        if row.valid_from_at >= refresh_at:
            continue
        if row.valid_to_at is None or row.valid_to_at > refresh_at:
            row = replace(row, valid_to_at=refresh_at)
        head.append(row)

    # genai-prices' prices from the refresh instant on.
    tail: list[PriceRow] = []
    for row in sorted(generated, key=sort_key):
        if row.valid_to_at is not None and row.valid_to_at <= refresh_at:
            continue
        tail.append(replace(row, valid_from_at=max(row.valid_from_at, refresh_at)))

    # An unchanged price continues its recorded row instead of opening a new one.
    if (
        head
        and tail
        and head[-1].valid_to_at == refresh_at
        and tail[0].valid_from_at == refresh_at
        and head[-1].price_usd == tail[0].price_usd
        and head[-1].unit == tail[0].unit
    ):
        head[-1] = replace(head[-1], valid_to_at=tail[0].valid_to_at)
        tail = tail[1:]
    return head + tail


def merge_price_history(
    recorded: Iterable[PriceRow], generated: Iterable[PriceRow], refresh_date: dt.date
) -> list[PriceRow]:
    """Merge recorded history and genai-prices' prices into the seed's rows on `refresh_date`."""
    refresh_at = dt.datetime.combine(refresh_date, dt.time())
    recorded_by_key: dict[tuple[str, str, str, str, int], list[PriceRow]] = defaultdict(list)
    generated_by_key: dict[tuple[str, str, str, str, int], list[PriceRow]] = defaultdict(list)
    for row in recorded:
        recorded_by_key[row.key].append(row)
    for row in generated:
        generated_by_key[row.key].append(row)

    merged: list[PriceRow] = []
    for key in sorted(recorded_by_key.keys() | generated_by_key.keys()):
        merged += _merge_key(recorded_by_key[key], generated_by_key[key], refresh_at)
    return sorted(merged, key=sort_key)


def check_no_overlaps(rows: Iterable[PriceRow]) -> None:
    """Raise ValueError when two rows of one price key are in force at the same instant."""
    by_key: dict[tuple[str, str, str, str, int], list[PriceRow]] = defaultdict(list)
    for row in rows:
        by_key[row.key].append(row)
    for key, key_rows in by_key.items():
        ordered = sorted(key_rows, key=sort_key)
        for earlier, later in itertools.pairwise(ordered):
            if earlier.valid_to_at is None or earlier.valid_to_at > later.valid_from_at:
                raise ValueError(
                    f"overlapping prices for {'/'.join(map(str, key))}: the row from "
                    f"{earlier.valid_from_at} is still in force at {later.valid_from_at}"
                )
