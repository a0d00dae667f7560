"""File names, columns and table hints of the customers source."""

from __future__ import annotations

from dlt.common.schema.typing import TColumnSchema

CUSTOMERS_FILE = "customers.csv"
SUBSCRIPTIONS_FILE = "subscriptions.csv"

# The folder used when SOURCES__CUSTOMERS__BUCKET_URL is not set, relative to the project root.
DEFAULT_FOLDER = "data/customers"

CUSTOMER_COLUMNS = ("customer_id", "customer_name", "created_date")
SUBSCRIPTION_COLUMNS = (
    "subscription_id",
    "customer_id",
    "plan_id",
    "start_date",
    "end_date",
    "negotiated_fee",
    "discount_pct",
)
REQUIRED_SUBSCRIPTION_COLUMNS = ("subscription_id", "customer_id", "plan_id", "start_date")

MAX_CUSTOMER_ID_LENGTH = 256

# Digits after the decimal point that fees and percentages may carry: the scale of the columns.
DECIMAL_SCALE = 12

# Values that mean something else in the marts (see docs/vocabulary.md), so never a customer id.
RESERVED_IDENTIFIERS = frozenset(
    {"(unattributed)", "(none)", "(not grouped)", "(default)", "(no key)"}
)


def _column(data_type: str, *, nullable: bool = True, **extra: int) -> TColumnSchema:
    """A column hint, new on every call because dlt adds the column name to the dict it gets."""
    hint: dict[str, object] = {"data_type": data_type, "nullable": nullable, **extra}
    return hint  # type: ignore[return-value]


def customers_hints() -> dict[str, TColumnSchema]:
    """Column hints of `raw_customers.customers`."""
    return {
        "customer_id": _column("text", nullable=False),
        "customer_name": _column("text", nullable=False),
        "created_date": _column("date", nullable=False),
        "source_file": _column("text", nullable=False),
        "source_line": _column("bigint", nullable=False),
    }


def subscriptions_hints() -> dict[str, TColumnSchema]:
    """Column hints of `raw_customers.subscriptions`; decimals keep DECIMAL_SCALE places."""
    return {
        "subscription_id": _column("text", nullable=False),
        "customer_id": _column("text", nullable=False),
        "plan_id": _column("text", nullable=False),
        "start_date": _column("date", nullable=False),
        "end_date": _column("date"),
        "negotiated_fee": _column("decimal", precision=38, scale=DECIMAL_SCALE),
        "discount_pct": _column("decimal", precision=38, scale=DECIMAL_SCALE),
        "source_file": _column("text", nullable=False),
        "source_line": _column("bigint", nullable=False),
    }


def quarantine_hints() -> dict[str, TColumnSchema]:
    """Column hints of `raw_customers.quarantine`."""
    return {
        "source_file": _column("text", nullable=False),
        "line_number": _column("bigint", nullable=False),
        "raw_row": _column("text"),
        "reason": _column("text", nullable=False),
        "is_duplicate": _column("bool", nullable=False),
    }
