"""File pattern, columns, limits and table hints of the invoices source."""

from __future__ import annotations

from dlt.common.schema.typing import TColumnSchema

# Every file of the folder whose name matches this pattern is an invoice totals file.
FILE_GLOB = "*.csv"

# The folder used when SOURCES__INVOICES__BUCKET_URL is not set, relative to the project root.
DEFAULT_FOLDER = "data/invoices"

REQUIRED_COLUMNS = (
    "provider",
    "invoice_id",
    "period_start_date",
    "period_end_date",
    "currency",
    "usage_subtotal",
    "total",
)
OPTIONAL_COLUMNS = ("credits", "tax")

# The provider names of docs/vocabulary.md.
KNOWN_PROVIDERS = frozenset({"openai", "anthropic", "google"})

# The reconciliation compares US-dollar amounts only; there is no exchange-rate step for invoices.
SUPPORTED_CURRENCY = "USD"

# Amounts are stored as DECIMAL(38, 18), the project's US-dollar type.
DECIMAL_PRECISION = 38
DECIMAL_SCALE = 18

# The reconciliation mart lists the days of an invoice period from a fixed series of this many
# days, so a longer period is rejected. Annual invoices fit.
MAX_PERIOD_DAYS = 366


def _column(data_type: str, *, nullable: bool = True, **extra: int) -> TColumnSchema:
    """A column hint, new on every call because dlt adds the column name to the dict it gets."""
    hint: dict[str, object] = {"data_type": data_type, "nullable": nullable, **extra}
    return hint  # type: ignore[return-value]


def _amount(*, nullable: bool = False) -> TColumnSchema:
    return _column("decimal", nullable=nullable, precision=DECIMAL_PRECISION, scale=DECIMAL_SCALE)


def invoices_hints() -> dict[str, TColumnSchema]:
    """Column hints of `raw_invoices.invoices`."""
    return {
        "invoice_id": _column("text", nullable=False),
        "provider": _column("text", nullable=False),
        "period_start_date": _column("date", nullable=False),
        "period_end_date": _column("date", nullable=False),
        "currency": _column("text", nullable=False),
        "usage_subtotal": _amount(),
        "credits": _amount(),
        "tax": _amount(),
        "total": _amount(),
        "source_file": _column("text", nullable=False),
        "source_line": _column("bigint", nullable=False),
        "source_file_modified_at": _column("timestamp", nullable=False),
    }


def quarantine_hints() -> dict[str, TColumnSchema]:
    """Column hints of `raw_invoices.quarantine`."""
    return {
        "source_file": _column("text", nullable=False),
        "line_number": _column("bigint", nullable=False),
        "raw_row": _column("text"),
        "reason": _column("text", nullable=False),
        "is_duplicate": _column("bool", nullable=False),
    }
