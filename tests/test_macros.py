"""The money and time macros, run by real dbt on DuckDB in a scratch project."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.dbt_helpers import run_dbt

PROJECT_ROOT = Path(__file__).resolve().parents[1]

SPLIT_MODEL = """
with parts as (
    select * from (
        values
            ('thirds', 'a', cast(0.10 as decimal(38, 18)), 1),
            ('thirds', 'b', cast(0.10 as decimal(38, 18)), 1),
            ('thirds', 'c', cast(0.10 as decimal(38, 18)), 1),
            ('all_zero', 'a', cast(5 as decimal(38, 18)), 0),
            ('all_zero', 'b', cast(5 as decimal(38, 18)), 0),
            ('credit', 'a', cast(-1 as decimal(38, 18)), 1),
            ('credit', 'b', cast(-1 as decimal(38, 18)), 1),
            ('sub_pico', 'a', cast('1.0000000000005' as decimal(38, 18)), 1),
            ('sub_pico', 'b', cast('1.0000000000005' as decimal(38, 18)), 1),
            ('zero_weight', 'a', cast('0.000000000001' as decimal(38, 18)), 1),
            ('zero_weight', 'b', cast('0.000000000001' as decimal(38, 18)), 1),
            ('zero_weight', 'z', cast('0.000000000001' as decimal(38, 18)), 0),
            ('large', 'a', cast('123456789012.000000000000003' as decimal(38, 18)), 1),
            ('large', 'b', cast('123456789012.000000000000003' as decimal(38, 18)), 2)
    ) as input_rows (group_id, member_id, amount_usd, weight)
),

split as (
    {{
        llmeter.split_exact(
            'parts', 'amount_usd', 'weight', ['group_id'], ['member_id'], 'part_usd'
        )
    }}
)

select group_id, member_id, part_usd from split
"""

TIME_MODEL = """
{{ config(pre_hook="set TimeZone = 'Asia/Tokyo'") }}
select
    {{ llmeter.utc_date("cast('2026-08-03 23:30:00+00' as timestamptz)") }} as late_evening_date,
    cast(cast('2026-08-03 23:30:00+00' as timestamptz) as date) as session_date,
    {{ llmeter.cents_to_usd("'54.702000'") }} as amount_usd,
    {{ llmeter.exact_ratio('cast(150000000000 as bigint)', 'cast(400000000000 as bigint)', 6) }}
        as large_token_share,
    {{ llmeter.exact_ratio("cast('-1' as decimal(38, 18))", "cast('3' as decimal(38, 18))", 4) }}
        as negative_third
"""


@pytest.fixture(scope="module")
def macro_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch dbt project with the project's macros and two models, built once."""
    project = tmp_path_factory.mktemp("macro_project")
    shutil.copytree(PROJECT_ROOT / "macros", project / "macros")
    shutil.copy(PROJECT_ROOT / "profiles.yml", project / "profiles.yml")
    (project / "dbt_project.yml").write_text(
        "name: llmeter\nversion: '0.1.0'\nconfig-version: 2\nprofile: llmeter\n"
        "models:\n  llmeter:\n    +materialized: table\n",
        encoding="utf-8",
    )
    (project / "models").mkdir()
    (project / "models" / "split_cases.sql").write_text(SPLIT_MODEL, encoding="utf-8")
    (project / "models" / "time_cases.sql").write_text(TIME_MODEL, encoding="utf-8")

    warehouse = project / "macros.duckdb"
    result = run_dbt(project, ["run"], warehouse=warehouse, target_path=project / "target")
    assert result.returncode == 0, result.stdout + result.stderr
    return warehouse


def _parts(warehouse: Path, group_id: str) -> dict[str, Decimal]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select member_id, part_usd from main.split_cases where group_id = ? order by 1",
            [group_id],
        ).fetchall()
    return {member_id: part for member_id, part in rows}


@pytest.mark.slow
def test_split_exact_uneven_thirds(macro_warehouse: Path) -> None:
    parts = _parts(macro_warehouse, "thirds")
    # 0.10 USD is 100,000,000,000 pico-dollars: 33,333,333,333 each and one left over, which
    # goes to the first member by order because the three fractions tie.
    assert parts["a"] == Decimal("0.033333333334")
    assert parts["b"] == Decimal("0.033333333333")
    assert parts["c"] == Decimal("0.033333333333")
    assert sum(parts.values()) == Decimal("0.1")


@pytest.mark.slow
def test_split_exact_all_zero_weights(macro_warehouse: Path) -> None:
    parts = _parts(macro_warehouse, "all_zero")
    assert parts["a"] == Decimal("5")
    assert parts["b"] == Decimal("0")


@pytest.mark.slow
def test_split_exact_negative_amount(macro_warehouse: Path) -> None:
    parts = _parts(macro_warehouse, "credit")
    assert parts["a"] == Decimal("-0.5")
    assert parts["b"] == Decimal("-0.5")


@pytest.mark.slow
def test_split_exact_keeps_sub_pico_digits(macro_warehouse: Path) -> None:
    parts = _parts(macro_warehouse, "sub_pico")
    assert parts["a"] == Decimal("0.5000000000005")
    assert parts["b"] == Decimal("0.5")
    assert sum(parts.values()) == Decimal("1.0000000000005")


@pytest.mark.slow
def test_split_exact_zero_weight_gets_nothing(macro_warehouse: Path) -> None:
    parts = _parts(macro_warehouse, "zero_weight")
    assert parts["a"] == Decimal("0.000000000001")
    assert parts["b"] == Decimal("0")
    assert parts["z"] == Decimal("0")


@pytest.mark.slow
def test_split_exact_large_amount(macro_warehouse: Path) -> None:
    parts = _parts(macro_warehouse, "large")
    # 123,456,789,012 USD split 1:2 is 41,152,263,004 and 82,304,526,008 exactly; the
    # 0.000000000000003 below a pico-dollar goes to the heavier row, which ranks first.
    assert parts["a"] == Decimal("41152263004")
    assert parts["b"] == Decimal("82304526008.000000000000003")


@pytest.mark.slow
def test_utc_date_ignores_session_time_zone(macro_warehouse: Path) -> None:
    with duckdb.connect(str(macro_warehouse), read_only=True) as connection:
        utc_day, session_day, amount = connection.execute(
            "select late_evening_date, session_date, amount_usd from main.time_cases"
        ).fetchone()
    assert str(utc_day) == "2026-08-03"
    # The plain cast follows the Tokyo session time zone, which is what utc_date avoids.
    assert str(session_day) == "2026-08-04"
    assert amount == Decimal("0.54702")


@pytest.mark.slow
def test_exact_ratio_large_counts(macro_warehouse: Path) -> None:
    with duckdb.connect(str(macro_warehouse), read_only=True) as connection:
        share, third = connection.execute(
            "select large_token_share, negative_third from main.time_cases"
        ).fetchone()
    # 150 billion of 400 billion tokens: 0.375 exactly, past the 1e8 that a single scaling of
    # DECIMAL(38, 18) by 1e12 could hold.
    assert share == Decimal("0.375000")
    # Truncated toward zero at 4 decimal places.
    assert third == Decimal("-0.3333")
