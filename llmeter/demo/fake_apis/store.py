"""Daily provider records that the fake Admin APIs serve, indexed by UTC day.

The demo simulator writes what each provider would report as files in `<demo>/provider/`
(one JSON object per line). The store reads them with `parse_float=Decimal`, validates each
record, indexes usage and cost records by day and sums them over the dimensions a request does
not group by. Tests build a store directly from Python lists.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

Provider = Literal["openai", "anthropic"]
RecordKind = Literal["usage", "costs"]
Number = int | Decimal

PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic")
RECORD_KINDS: tuple[RecordKind, ...] = ("usage", "costs")

OPENAI_USAGE_ENDPOINTS: tuple[str, ...] = (
    "completions",
    "embeddings",
    "moderations",
    "images",
    "audio_speeches",
    "audio_transcriptions",
    "vector_stores",
    "code_interpreter_sessions",
    "file_search_calls",
    "web_search_calls",
)

USAGE_FILES: dict[Provider, str] = {
    "openai": "openai_usage.ndjson",
    "anthropic": "anthropic_usage.ndjson",
}
COST_FILES: dict[Provider, str] = {
    "openai": "openai_costs.ndjson",
    "anthropic": "anthropic_costs.ndjson",
}
LIST_FILES: dict[str, str] = {
    "openai_projects": "openai_projects.json",
    "openai_api_keys": "openai_api_keys.json",
    "anthropic_api_keys": "anthropic_api_keys.json",
    "anthropic_workspaces": "anthropic_workspaces.json",
}

# Cost amounts, per provider: the field name and its unit.
AMOUNT_FIELDS: dict[Provider, str] = {"openai": "amount_usd", "anthropic": "amount_cents"}


class InvalidRecordError(ValueError):
    """Raised for a provider record that the fake APIs cannot serve; the message names it."""


def parse_day(value: object) -> dt.date:
    """Parse a `YYYY-MM-DD` day (or pass a `date` through)."""
    if isinstance(value, dt.datetime):
        raise InvalidRecordError(f"date {value!r} must be a day (YYYY-MM-DD), not a timestamp")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidRecordError(f"date {value!r} is not a day in the form YYYY-MM-DD")


def to_decimal(value: object, field: str) -> Decimal:
    """Convert a decimal string, int or Decimal to Decimal; floats are rejected as inexact."""
    if isinstance(value, bool | float):
        raise InvalidRecordError(f"{field} {value!r} must be a decimal string, not a float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except ArithmeticError:
            raise InvalidRecordError(f"{field} {value!r} is not a decimal number") from None
    else:
        raise InvalidRecordError(f"{field} {value!r} is not a decimal number")
    if not result.is_finite():
        raise InvalidRecordError(f"{field} {value!r} is not a finite number")
    return result


def read_path(record: Mapping[str, Any], path: str) -> Any:
    """Read a dotted field path (`cache_creation.ephemeral_5m_input_tokens`); None when absent."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def metric_value(record: Mapping[str, Any], path: str) -> Number:
    """Return a metric of `record`, 0 when absent; floats and non-numbers are rejected."""
    value = read_path(record, path)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidRecordError(f"metric {path} {value!r} must be an integer or a decimal")
    return value


# Sums and scaling of amounts run in this context: 80 significant digits, and any rounding
# raises instead of silently changing an amount.
EXACT_CONTEXT = Context(prec=80, traps=[Inexact, InvalidOperation])


def exact_sum(values: Iterable[Number]) -> Number:
    """Add ints and Decimals without rounding.

    Raises:
        decimal.Inexact: the sum needs more than 80 significant digits.
    """
    with localcontext(EXACT_CONTEXT):
        return sum(values, start=0)


def exact_product(value: Number, factor: Number) -> Number:
    """Multiply without rounding; raises `decimal.Inexact` beyond 80 significant digits."""
    with localcontext(EXACT_CONTEXT):
        return value * factor


def group_records(
    records: Iterable[Mapping[str, Any]], dimensions: Sequence[str], grouped: Collection[str]
) -> list[tuple[dict[str, Any], list[Mapping[str, Any]]]]:
    """Group `records` by the `grouped` dimensions.

    Returns:
        One (dimension values, records) pair per group, in the order the groups first appear.
        The values hold every one of `dimensions`, None for those not grouped.
    """
    groups: dict[tuple[Any, ...], tuple[dict[str, Any], list[Mapping[str, Any]]]] = {}
    for record in records:
        values = {
            dimension: record.get(dimension) if dimension in grouped else None
            for dimension in dimensions
        }
        groups.setdefault(tuple(values.values()), (values, []))[1].append(record)
    return list(groups.values())


def aggregate(
    records: Iterable[Mapping[str, Any]],
    dimensions: Sequence[str],
    grouped: Collection[str],
    metrics: Sequence[str],
) -> list[tuple[dict[str, Any], dict[str, Number]]]:
    """Sum `metrics` of `records` per combination of the `grouped` dimensions.

    Args:
        records: the records of one bucket.
        dimensions: every dimension a result carries.
        grouped: the dimensions the request groups by; the others are None in the result.
        metrics: dotted paths of the fields to sum; an absent metric counts as 0.

    Returns:
        One (dimension values, metric sums) pair per group, in the order the groups first
        appear in `records`.
    """
    results = []
    for values, members in group_records(records, dimensions, grouped):
        sums: dict[str, Number] = {
            metric: exact_sum(metric_value(record, metric) for record in members)
            for metric in metrics
        }
        results.append((values, sums))
    return results


def _normalize_usage(provider: Provider, record: Mapping[str, Any]) -> dict[str, Any]:
    normalized = dict(record)
    normalized["date"] = parse_day(record.get("date"))
    if provider == "openai":
        endpoint = record.get("endpoint")
        if endpoint not in OPENAI_USAGE_ENDPOINTS:
            raise InvalidRecordError(
                f"endpoint {endpoint!r} is not an OpenAI usage endpoint; expected one of "
                + ", ".join(OPENAI_USAGE_ENDPOINTS)
            )
    return normalized


def _normalize_cost(provider: Provider, record: Mapping[str, Any]) -> dict[str, Any]:
    normalized = dict(record)
    normalized["date"] = parse_day(record.get("date"))
    field = AMOUNT_FIELDS[provider]
    if record.get(field) is None:
        raise InvalidRecordError(f"{field} is missing")
    normalized[field] = to_decimal(record[field], field)
    quantity = record.get("quantity")
    if quantity is not None:
        normalized["quantity"] = metric_value(record, "quantity")
    return normalized


def _normalize_all(
    provider: Provider, kind: RecordKind, records: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    normalize = _normalize_usage if kind == "usage" else _normalize_cost
    normalized = []
    for index, record in enumerate(records):
        try:
            normalized.append(normalize(provider, record))
        except InvalidRecordError as error:
            raise InvalidRecordError(f"{provider} {kind} record {index}: {error}") from None
    return normalized


class ProviderDataStore:
    """Daily usage and cost records of both providers, plus their project, key and workspace lists.

    Usage and cost records are indexed by (provider, kind) and UTC day. OpenAI usage records
    carry an `endpoint` field naming the usage endpoint that serves them. Amounts are Decimal:
    OpenAI `amount_usd` in dollars, Anthropic `amount_cents` in cents. All methods are
    thread-safe.
    """

    def __init__(
        self,
        *,
        openai_usage: Iterable[Mapping[str, Any]] = (),
        openai_costs: Iterable[Mapping[str, Any]] = (),
        anthropic_usage: Iterable[Mapping[str, Any]] = (),
        anthropic_costs: Iterable[Mapping[str, Any]] = (),
        openai_projects: Iterable[Mapping[str, Any]] = (),
        openai_api_keys: Iterable[Mapping[str, Any]] = (),
        anthropic_api_keys: Iterable[Mapping[str, Any]] = (),
        anthropic_workspaces: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._lock = threading.Lock()
        self._days: dict[tuple[Provider, RecordKind], dict[dt.date, list[dict[str, Any]]]] = {
            (provider, kind): {} for provider in PROVIDERS for kind in RECORD_KINDS
        }
        inputs: dict[tuple[Provider, RecordKind], Iterable[Mapping[str, Any]]] = {
            ("openai", "usage"): openai_usage,
            ("openai", "costs"): openai_costs,
            ("anthropic", "usage"): anthropic_usage,
            ("anthropic", "costs"): anthropic_costs,
        }
        for (provider, kind), records in inputs.items():
            for record in _normalize_all(provider, kind, records):
                self._days[provider, kind].setdefault(record["date"], []).append(record)

        self.openai_projects: list[dict[str, Any]] = [dict(item) for item in openai_projects]
        self.openai_api_keys: list[dict[str, Any]] = [dict(item) for item in openai_api_keys]
        self.anthropic_api_keys: list[dict[str, Any]] = [dict(item) for item in anthropic_api_keys]
        self.anthropic_workspaces: list[dict[str, Any]] = [
            dict(item) for item in anthropic_workspaces
        ]

    @classmethod
    def from_folder(cls, demo_folder: Path | str) -> ProviderDataStore:
        """Load the provider files of a demo folder (`<demo_folder>/provider/`).

        A missing file is logged as a warning and served as no records.

        Raises:
            FileNotFoundError: `<demo_folder>/provider/` does not exist.
            InvalidRecordError: a line is not valid JSON or not a valid record; the message
                names the file and line.
        """
        folder = Path(demo_folder) / "provider"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Provider folder {folder} not found; run the demo simulator to write it"
            )
        records: dict[str, Any] = {}
        for provider in PROVIDERS:
            for kind, files in (("usage", USAGE_FILES), ("costs", COST_FILES)):
                path = folder / files[provider]
                normalize = _normalize_usage if kind == "usage" else _normalize_cost
                normalized = []
                for number, record in _read_ndjson(path):
                    try:
                        normalized.append(normalize(provider, record))
                    except InvalidRecordError as error:
                        raise InvalidRecordError(f"{path}:{number}: {error}") from None
                records[f"{provider}_{kind}"] = normalized
        for name, file_name in LIST_FILES.items():
            records[name] = _read_json_list(folder / file_name)
        return cls(**records)

    def day_records(
        self, provider: Provider, kind: RecordKind, day: dt.date, endpoint: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the records of one day; `endpoint` selects one OpenAI usage endpoint."""
        with self._lock:
            records = list(self._days[provider, kind].get(day, ()))
        if endpoint is not None:
            records = [record for record in records if record.get("endpoint") == endpoint]
        return records

    def replace_day(
        self,
        provider: Provider,
        kind: RecordKind,
        day: dt.date,
        records: Iterable[Mapping[str, Any]],
        endpoint: str | None = None,
    ) -> None:
        """Replace the records of one day, as a provider restating a bucket does.

        Args:
            provider: `openai` or `anthropic`.
            kind: `usage` or `costs`.
            day: the UTC day whose records are replaced.
            records: the new records; their `date` defaults to `day` and must equal it.
            endpoint: for OpenAI usage, replace only this endpoint's records; the new records'
                `endpoint` defaults to it. None replaces every record of the day.

        Raises:
            InvalidRecordError: a new record is invalid or dated another day.
        """
        defaults: dict[str, Any] = {"date": day.isoformat()}
        if endpoint is not None:
            defaults["endpoint"] = endpoint
        normalized = _normalize_all(provider, kind, ({**defaults, **r} for r in records))
        for record in normalized:
            if record["date"] != day:
                raise InvalidRecordError(f"record dated {record['date']} cannot restate {day}")
        with self._lock:
            other_endpoints = [
                record
                for record in self._days[provider, kind].get(day, ())
                if endpoint is not None and record.get("endpoint") != endpoint
            ]
            self._days[provider, kind][day] = other_endpoints + normalized


def _read_ndjson(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        logger.warning("Provider file %s not found; serving no records from it", path)
        return []
    lines: list[tuple[int, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError as error:
                raise InvalidRecordError(f"{path}:{number}: invalid JSON ({error})") from None
            if not isinstance(record, dict):
                raise InvalidRecordError(f"{path}:{number}: expected a JSON object")
            lines.append((number, record))
    return lines


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        logger.warning("Provider file %s not found; serving an empty list", path)
        return []
    items = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidRecordError(f"{path}: expected a JSON list of objects")
    return items
