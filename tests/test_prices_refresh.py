"""`llmeter prices refresh`: the price seed generated from genai-prices 0.2.3, and its history."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from llmeter.cli import main
from llmeter.prices.catalog import HISTORY_START, PriceRow, genai_price_rows
from llmeter.prices.history import (
    check_no_overlaps,
    format_price,
    merge_price_history,
    read_price_seed,
    write_price_seed,
)
from llmeter.prices.refresh import refresh_price_seeds

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VERSION = "genai-prices 0.2.3"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as seed_file:
        return list(csv.DictReader(seed_file))


def _find(
    rows: list[dict[str, str]], provider: str, model: str, component: str, tier: str = "standard"
) -> list[dict[str, str]]:
    return [
        row
        for row in rows
        if (row["provider"], row["model"], row["price_component"], row["service_tier"])
        == (provider, model, component, tier)
    ]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project folder with the dbt_project.yml that `find_project_root` looks for."""
    shutil.copy(PROJECT_ROOT / "dbt_project.yml", tmp_path / "dbt_project.yml")
    (tmp_path / "seeds").mkdir()
    return tmp_path


@pytest.fixture(scope="module")
def generated() -> list[dict[str, str]]:
    """The seed rows the installed genai-prices gives, as CSV records."""
    text = write_price_seed(genai_price_rows())
    return list(csv.DictReader(text.splitlines()))


def test_committed_seed_matches_genai_prices(tmp_path: Path) -> None:
    seed = tmp_path / "seeds" / "model_prices.csv"
    seed.parent.mkdir()
    shutil.copy(PROJECT_ROOT / "seeds" / "model_prices.csv", seed)
    shutil.copy(PROJECT_ROOT / "seeds" / "model_aliases.csv", tmp_path / "seeds")

    summary = refresh_price_seeds(tmp_path, dt.date(2026, 11, 1))

    assert summary.changed_files == ()
    assert summary.opened == 0
    assert summary.closed == 0


def test_refresh_twice_is_byte_identical(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)

    assert main(["prices", "refresh", "--date", "2026-11-01"]) == 0
    first_prices = (project / "seeds" / "model_prices.csv").read_bytes()
    first_aliases = (project / "seeds" / "model_aliases.csv").read_bytes()
    assert main(["prices", "refresh", "--date", "2026-11-01"]) == 0

    assert (project / "seeds" / "model_prices.csv").read_bytes() == first_prices
    assert (project / "seeds" / "model_aliases.csv").read_bytes() == first_aliases


def test_refresh_on_a_later_day_keeps_unchanged_rows(project: Path) -> None:
    refresh_price_seeds(project, dt.date(2026, 11, 1))
    first = (project / "seeds" / "model_prices.csv").read_bytes()

    summary = refresh_price_seeds(project, dt.date(2026, 12, 24))

    assert (project / "seeds" / "model_prices.csv").read_bytes() == first
    assert summary.changed_files == ()


def test_changed_price_closes_old_row_and_opens_new(project: Path) -> None:
    refresh_price_seeds(project, dt.date(2026, 11, 1))
    seed = project / "seeds" / "model_prices.csv"
    rows = _rows(seed)
    # An older list price of gpt-4o input, as if the seed had been generated before a cut.
    edited = _find(rows, "openai", "gpt-4o", "input_uncached")
    assert [row["price_usd"] for row in edited] == ["2.5"]
    edited[0]["price_usd"] = "5"
    with seed.open("w", newline="", encoding="utf-8") as seed_file:
        writer = csv.DictWriter(seed_file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    summary = refresh_price_seeds(project, dt.date(2026, 11, 15))

    history = _find(_rows(seed), "openai", "gpt-4o", "input_uncached")
    assert [row["price_usd"] for row in history] == ["5", "2.5"]
    assert history[0]["valid_from_at"] == "2023-01-01 00:00:00"
    assert history[0]["valid_to_at"] == "2026-11-15 00:00:00"
    assert history[1]["valid_from_at"] == "2026-11-15 00:00:00"
    assert history[1]["valid_to_at"] == ""
    assert history[1]["source"] == f"{VERSION}: input_mtok"
    assert summary.opened == 2
    assert summary.closed == 1


def test_refresh_rejects_overlapping_seed(project: Path) -> None:
    refresh_price_seeds(project, dt.date(2026, 11, 1))
    seed = project / "seeds" / "model_prices.csv"
    rows = _rows(seed)
    duplicate = dict(_find(rows, "openai", "gpt-4o", "output")[0])
    duplicate["valid_from_at"] = "2025-01-01 00:00:00"
    rows.append(duplicate)
    with seed.open("w", newline="", encoding="utf-8") as seed_file:
        writer = csv.DictWriter(seed_file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    with pytest.raises(ValueError, match="overlapping prices for openai/gpt-4o/output"):
        refresh_price_seeds(project, dt.date(2026, 11, 15))


def _row(
    price: str, valid_from: dt.datetime, valid_to: dt.datetime | None, source: str
) -> PriceRow:
    return PriceRow(
        provider="openai",
        model="m",
        price_component="output",
        service_tier="standard",
        tier_threshold_tokens=0,
        valid_from_at=valid_from,
        valid_to_at=valid_to,
        price_usd=Decimal(price),
        unit="per_million_tokens",
        source=source,
    )


def test_merge_closes_a_price_genai_prices_dropped() -> None:
    recorded = [_row("4", HISTORY_START, None, "old")]

    merged = merge_price_history(recorded, [], dt.date(2026, 11, 15))

    assert merged == [_row("4", HISTORY_START, dt.datetime(2026, 11, 15), "old")]


def test_merge_keeps_an_announced_future_change() -> None:
    recorded = [_row("4", HISTORY_START, None, "old")]
    generated = [
        _row("4", HISTORY_START, dt.datetime(2027, 1, 1), "new"),
        _row("8", dt.datetime(2027, 1, 1), None, "new"),
    ]

    merged = merge_price_history(recorded, generated, dt.date(2026, 11, 15))

    assert merged == [
        _row("4", HISTORY_START, dt.datetime(2027, 1, 1), "old"),
        _row("8", dt.datetime(2027, 1, 1), None, "new"),
    ]


def test_merge_dates_past_change_on_refresh_day() -> None:
    recorded = [_row("10", HISTORY_START, None, "old")]
    generated = [
        _row("10", HISTORY_START, dt.datetime(2025, 6, 10), "new"),
        _row("2", dt.datetime(2025, 6, 10), None, "new"),
    ]

    merged = merge_price_history(recorded, generated, dt.date(2026, 11, 15))

    assert merged == [
        _row("10", HISTORY_START, dt.datetime(2026, 11, 15), "old"),
        _row("2", dt.datetime(2026, 11, 15), None, "new"),
    ]


def test_o3_price_cut_on_2025_06_10(generated: list[dict[str, str]]) -> None:
    history = _find(generated, "openai", "o3", "input_uncached")

    assert [(row["price_usd"], row["valid_from_at"], row["valid_to_at"]) for row in history] == [
        ("10", "2023-01-01 00:00:00", "2025-06-10 00:00:00"),
        ("2", "2025-06-10 00:00:00", ""),
    ]


def test_gpt_5_6_sol_change_keeps_tiers(generated: list[dict[str, str]]) -> None:
    history = _find(generated, "openai", "gpt-5.6-sol", "output")

    assert [
        (row["tier_threshold_tokens"], row["price_usd"], row["valid_from_at"], row["valid_to_at"])
        for row in history
    ] == [
        ("0", "30", "2023-01-01 00:00:00", "2026-08-21 00:00:00"),
        ("0", "20", "2026-08-21 00:00:00", ""),
        ("272000", "45", "2023-01-01 00:00:00", "2026-08-21 00:00:00"),
        ("272000", "30", "2026-08-21 00:00:00", ""),
    ]


def test_dropped_long_context_tier_ends(generated: list[dict[str, str]]) -> None:
    history = _find(generated, "anthropic", "claude-opus-4-6", "input_uncached")

    assert [
        (row["tier_threshold_tokens"], row["price_usd"], row["valid_from_at"], row["valid_to_at"])
        for row in history
    ] == [
        ("0", "5", "2023-01-01 00:00:00", ""),
        ("200000", "10", "2023-01-01 00:00:00", "2026-03-13 00:00:00"),
    ]


def test_key_added_later_is_no_price_change(generated: list[dict[str, str]]) -> None:
    # genai-prices adds cache_read_mtok to gpt-5.5-cyber on 2026-10-19; before that its
    # calc_price would charge cache reads at the input price.
    cache_reads = _find(generated, "openai", "gpt-5.5-cyber", "cache_read")
    web_search = _find(generated, "google", "gemini-3-pro-preview", "web_search_request")

    assert [
        (row["price_usd"], row["valid_from_at"], row["valid_to_at"]) for row in cache_reads
    ] == [("1.25", "2023-01-01 00:00:00", "")]
    assert [(row["price_usd"], row["valid_from_at"]) for row in web_search] == [
        ("14", "2023-01-01 00:00:00")
    ]


def test_component_fallbacks_follow_calc_price(generated: list[dict[str, str]]) -> None:
    # claude-2 has only input and output prices: genai-prices charges cache tokens as input.
    cache_read = _find(generated, "anthropic", "claude-2", "cache_read")
    # gpt-4o has no 1-hour cache write price: genai-prices charges them at cache_write_mtok,
    # and gpt-4o has none of that either, so at the input price.
    one_hour = _find(generated, "openai", "gpt-4o", "cache_write_1h")

    assert [(row["price_usd"], row["source"]) for row in cache_read] == [
        ("8", f"{VERSION}: input_mtok")
    ]
    assert [(row["price_usd"], row["source"]) for row in one_hour] == [
        ("2.5", f"{VERSION}: input_mtok")
    ]


def test_batch_variant_keeps_unlisted_standard_keys(generated: list[dict[str, str]]) -> None:
    # gpt-4.1-mini's batch variant lists input and output but no cached input.
    batch = {
        component: _find(generated, "openai", "gpt-4.1-mini", component, "batch")
        for component in ("input_uncached", "cache_read", "output")
    }

    assert [(row["price_usd"], row["valid_from_at"]) for row in batch["input_uncached"]] == [
        ("0.2", "2023-01-01 00:00:00")
    ]
    assert [row["price_usd"] for row in batch["output"]] == ["0.8"]
    assert [(row["price_usd"], row["source"]) for row in batch["cache_read"]] == [
        ("0.1", f"{VERSION}: cache_read_mtok of the standard prices, no batch price")
    ]


def test_empty_and_fast_variants_not_carried(generated: list[dict[str, str]]) -> None:
    tiers = {row["service_tier"] for row in generated}
    # gpt-3.5-turbo-1106 has an empty batch variant: no batch rows, the multiplier applies.
    empty_variant_batch = _find(
        generated, "openai", "gpt-3.5-turbo-1106", "input_uncached", "batch"
    )

    assert tiers == {"standard", "batch", "flex", "priority"}
    assert empty_variant_batch == []


def test_seed_has_no_overlaps_and_every_provider() -> None:
    rows = read_price_seed(PROJECT_ROOT / "seeds" / "model_prices.csv")

    check_no_overlaps(rows)
    assert {row.provider for row in rows} == {"anthropic", "google", "openai"}


def test_format_price_is_plain_fixed_point() -> None:
    assert format_price(Decimal("10")) == "10"
    assert format_price(Decimal("0.0000025")) == "0.0000025"
    assert format_price(Decimal("2.500")) == "2.5"
    with pytest.raises(ValueError, match="more than 12 decimal places"):
        format_price(Decimal("0.0000000000001"))


def test_aliases_cover_snapshots_and_vendor_ids() -> None:
    aliases = {
        (row["provider"], row["alias"]): row["model"]
        for row in _rows(PROJECT_ROOT / "seeds" / "model_aliases.csv")
    }

    assert aliases[("openai", "gpt-4o-2024-08-06")] == "gpt-4o"
    assert aliases[("anthropic", "claude-sonnet-4-5-20250929")] == "claude-sonnet-4-5"
    assert (
        aliases[("anthropic", "anthropic.claude-sonnet-4-5-20250929-v1:0")] == "claude-sonnet-4-5"
    )
    assert aliases[("anthropic", "claude-sonnet-4-5@20250929")] == "claude-sonnet-4-5"
    assert aliases[("anthropic", "claude-3-5-haiku-20241022")] == "claude-3-5-haiku-latest"
    assert ("openai", "gpt-4o-2024-05-13") not in aliases
