"""Reading marts from the published DuckDB file, and the row counts of earlier checks.

Marts reach pandas through Arrow with `pd.ArrowDtype` columns, so that DECIMAL money stays
`decimal128` (DuckDB's `.df()` would turn it into float64).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from llmeter import warehouse
from llmeter.audit import AUDIT_SCHEMA

logger = logging.getLogger(__name__)

# The schema the publish step writes the marts to; `main` is searched when it has none.
PUBLISHED_SCHEMAS = ("marts", "main")

CHECK_STEP = "check"
SUBJECT_PREFIX = "gx:"


@dataclass(frozen=True)
class MartRelation:
    """A mart table of the published file: its schema, its name and its columns' types."""

    schema: str
    name: str
    column_types: Mapping[str, str]

    @property
    def qualified_name(self) -> str:
        """The quoted `schema.name` to use in SQL."""
        return f'"{self.schema}"."{self.name}"'


def find_mart(connection: duckdb.DuckDBPyConnection, name: str) -> MartRelation | None:
    """Return the mart `name` of the published file, or None when it does not exist."""
    rows = connection.execute(
        """
        select table_schema, column_name, data_type
        from information_schema.columns
        where table_name = ? and table_schema in (?, ?)
        order by table_schema = ? desc, ordinal_position
        """,
        [name, *PUBLISHED_SCHEMAS, PUBLISHED_SCHEMAS[0]],
    ).fetchall()
    if not rows:
        return None
    schema = rows[0][0]
    column_types = {
        column: data_type for row_schema, column, data_type in rows if row_schema == schema
    }
    return MartRelation(schema=schema, name=name, column_types=column_types)


def read_mart(
    connection: duckdb.DuckDBPyConnection, mart: MartRelation, columns: Sequence[str]
) -> pd.DataFrame:
    """Read `columns` of `mart` (those that exist) into pandas with Arrow-backed dtypes.

    Only the columns the checks use are read, to keep large marts small in memory. A column
    that does not exist is left out, so that the expectation on it fails inside GX.
    """
    present = [column for column in dict.fromkeys(columns) if column in mart.column_types]
    if not present:
        counted = connection.execute(f"select count(*) from {mart.qualified_name}").fetchone()
        row_count = counted[0] if counted else 0
        return pd.DataFrame(index=pd.RangeIndex(row_count))
    column_list = ", ".join(f'"{column}"' for column in present)
    table = connection.sql(f"select {column_list} from {mart.qualified_name}").to_arrow_table()
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def previous_row_counts(warehouse_path: Path, memory_limit: str, run_id: str) -> dict[str, int]:
    """Return each mart's row count from the latest earlier check recorded in `run_audit`.

    A mart that no earlier check counted is missing from the result.
    """
    if not warehouse_path.is_file():
        return {}
    with warehouse.connection(
        warehouse_path, memory_limit=memory_limit, read_only=True
    ) as connection:
        (has_audit,) = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = 'run_audit'",
            [AUDIT_SCHEMA],
        ).fetchone() or (0,)
        if not has_audit:
            return {}
        rows = connection.execute(
            f"""
            select subject, details
            from {AUDIT_SCHEMA}.run_audit
            where step = ? and starts_with(subject, ?) and run_id != ? and details is not null
            order by started_at desc
            """,
            [CHECK_STEP, SUBJECT_PREFIX, run_id],
        ).fetchall()

    counts: dict[str, int] = {}
    for subject, details in rows:
        mart = subject.removeprefix(SUBJECT_PREFIX)
        if mart in counts:
            continue
        parsed: Any = json.loads(details) if isinstance(details, str) else details
        row_count = parsed.get("row_count") if isinstance(parsed, dict) else None
        if isinstance(row_count, int):
            counts[mart] = row_count
    return counts
