"""Shared parts of the LLMeter dlt sources: the warehouse destination and the pipeline factory."""

from __future__ import annotations

from pathlib import Path

import dlt
from dlt.destinations import duckdb as duckdb_destination
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from llmeter.settings import Settings


def pipelines_dir(settings: Settings) -> Path:
    """dlt's local working folder, kept next to the warehouse so that one folder contains both."""
    return settings.warehouse_path.parent / ".dlt_pipelines"


def make_pipeline(settings: Settings, pipeline_name: str, dataset_name: str) -> dlt.Pipeline:
    """Return a dlt pipeline that loads `dataset_name` into the warehouse file in UTC.

    The DuckDB connection gets the same TimeZone and memory_limit as every other connection
    of the project.
    """
    credentials = DuckDbCredentials(str(settings.warehouse_path))
    credentials.global_config = {"TimeZone": "UTC", "memory_limit": settings.memory_limit}
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        pipelines_dir=str(pipelines_dir(settings)),
        destination=duckdb_destination(credentials=credentials),
        dataset_name=dataset_name,
        progress="log",
    )
