"""DuckDB connections with the project's session settings.

Every connection runs in UTC and with the configured memory limit. Callers open a connection
for one step and close it before the next step opens the file, because DuckDB allows one
writer per file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from llmeter.settings import DEFAULT_MEMORY_LIMIT


def connect(
    path: Path, *, memory_limit: str = DEFAULT_MEMORY_LIMIT, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file at `path` in UTC with `memory_limit`."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(
        str(path), read_only=read_only, config={"memory_limit": memory_limit}
    )
    # TimeZone cannot go in the connect config: it needs the ICU extension, which DuckDB loads
    # only after the connection exists.
    connection.execute("set TimeZone = 'UTC'")
    return connection


@contextmanager
def connection(
    path: Path, *, memory_limit: str = DEFAULT_MEMORY_LIMIT, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open a connection for the duration of a `with` block and always close it."""
    opened = connect(path, memory_limit=memory_limit, read_only=read_only)
    try:
        yield opened
    finally:
        opened.close()


def fetch_arrow(
    connection: duckdb.DuckDBPyConnection, sql: str, parameters: list[object] | None = None
) -> pa.Table:
    """Run `sql` and return an Arrow table, which keeps DECIMAL columns exact.

    DuckDB's `.df()` turns DECIMAL into float64, so money reaches pandas only through Arrow
    (`table.to_pandas(types_mapper=pd.ArrowDtype)`).
    """
    return connection.execute(sql, parameters or []).to_arrow_table()
