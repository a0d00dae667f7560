"""Project discovery and the settings every step shares.

Settings come from environment variables so that the CLI, plain `dbt build` (through
`profiles.yml`) and the dlt pipelines agree on one warehouse file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WAREHOUSE = "warehouse/llmeter.duckdb"
DEFAULT_PUBLISHED = "warehouse/published/llmeter.duckdb"
# DuckDB's memory_limit bounds DuckDB's buffer manager, not the whole process. With 3GB, the dbt
# process of a full run at 10 million calls peaked at 3.18 GiB and the whole run at 3.29 GiB
# (BENCHMARKS.md), under 4 GB. The extract and build steps run in child processes, so one
# step's memory is returned before the next step starts.
DEFAULT_MEMORY_LIMIT = "3GB"


class ProjectNotFoundError(RuntimeError):
    """Raised when no LLMeter project is found above the working directory."""


def find_project_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above `start` that contains an LLMeter `dbt_project.yml`."""
    start_folder = (start or Path.cwd()).resolve()
    for folder in (start_folder, *start_folder.parents):
        project_file = folder / "dbt_project.yml"
        if project_file.is_file() and "name: llmeter" in project_file.read_text(encoding="utf-8"):
            return folder
    raise ProjectNotFoundError(
        f"No LLMeter project (a dbt_project.yml with 'name: llmeter') at or above {start_folder}. "
        "Run llmeter from the project folder or one of its subfolders."
    )


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one run."""

    project_root: Path
    warehouse_path: Path
    published_path: Path
    memory_limit: str
    as_of_date: dt.date

    @property
    def lock_path(self) -> Path:
        return self.warehouse_path.with_name(self.warehouse_path.name + ".lock")


def _resolve(root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def parse_as_of(value: str | None) -> dt.date:
    """Parse LLMETER_AS_OF (YYYY-MM-DD); empty or unset means the current UTC date."""
    if not value:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"LLMETER_AS_OF must be a date like 2026-11-01, got {value!r}") from error


MEMORY_LIMIT_PATTERN = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def parse_memory_limit(value: str) -> str:
    """Check LLMETER_MEMORY_LIMIT against the sizes DuckDB's memory_limit accepts."""
    if not MEMORY_LIMIT_PATTERN.match(value.strip()):
        raise ValueError(f"LLMETER_MEMORY_LIMIT must be a size like 4GB or 512MiB, got {value!r}")
    return value.strip()


def load_settings(project_root: Path | None = None) -> Settings:
    """Read the settings from the environment, resolving paths against the project root."""
    root = project_root or find_project_root()
    return Settings(
        project_root=root,
        warehouse_path=_resolve(root, os.environ.get("LLMETER_WAREHOUSE") or DEFAULT_WAREHOUSE),
        published_path=_resolve(root, os.environ.get("LLMETER_PUBLISHED") or DEFAULT_PUBLISHED),
        memory_limit=parse_memory_limit(
            os.environ.get("LLMETER_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
        ),
        as_of_date=parse_as_of(os.environ.get("LLMETER_AS_OF")),
    )
