"""`llmeter prices refresh`: regenerate the price and alias seeds from the installed genai-prices.

The price seed keeps its history (see `llmeter.prices.history`); the alias seed is rewritten
whole. Both files are written deterministically, so a refresh that finds nothing new leaves
them byte for byte as they were.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from llmeter.prices.aliases import alias_rows, write_alias_seed
from llmeter.prices.catalog import genai_price_rows, genai_prices_version
from llmeter.prices.history import (
    check_no_overlaps,
    merge_price_history,
    read_price_seed,
    write_price_seed,
)
from llmeter.settings import find_project_root

logger = logging.getLogger(__name__)

PRICE_SEED = Path("seeds/model_prices.csv")
ALIAS_SEED = Path("seeds/model_aliases.csv")


@dataclass(frozen=True)
class RefreshSummary:
    """Counts of one refresh of the price seed."""

    rows: int
    kept: int
    opened: int
    closed: int
    changed_files: tuple[Path, ...]


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def refresh_price_seeds(project_root: Path, refresh_date: dt.date) -> RefreshSummary:
    """Merge the installed genai-prices into the project's price seed and rewrite its aliases.

    Raises:
        ValueError: the existing seed is invalid or has overlapping validity periods.
    """
    price_path = project_root / PRICE_SEED
    recorded = read_price_seed(price_path)
    check_no_overlaps(recorded)
    merged = merge_price_history(recorded, genai_price_rows(), refresh_date)
    check_no_overlaps(merged)

    recorded_set = set(recorded)
    merged_set = set(merged)
    changed_files = []
    if _write_if_changed(price_path, write_price_seed(merged)):
        changed_files.append(price_path)
    alias_path = project_root / ALIAS_SEED
    if _write_if_changed(alias_path, write_alias_seed(alias_rows())):
        changed_files.append(alias_path)

    return RefreshSummary(
        rows=len(merged),
        kept=len(recorded_set & merged_set),
        opened=len(merged_set - recorded_set),
        closed=len(recorded_set - merged_set),
        changed_files=tuple(changed_files),
    )


def refresh_command(arguments: argparse.Namespace) -> int:
    """Run `llmeter prices refresh [--date D]` and return the exit code."""
    refresh_date: dt.date = arguments.date or dt.datetime.now(dt.UTC).date()
    root = find_project_root()
    summary = refresh_price_seeds(root, refresh_date)
    logger.info(
        "Refreshed the price seed from %s on %s: %d rows, %d unchanged, %d written, %d replaced",
        genai_prices_version(),
        refresh_date.isoformat(),
        summary.rows,
        summary.kept,
        summary.opened,
        summary.closed,
    )
    if summary.changed_files:
        for path in summary.changed_files:
            print(f"updated {path.relative_to(root)}")
    else:
        print("price seeds unchanged")
    return 0
