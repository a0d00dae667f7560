"""The file-backed Great Expectations project in `gx/` and the objects the checks register in it.

`gx/great_expectations.yml` is committed. It contains the stores, the Data Docs site and the
pandas data source with one dataframe asset per checked mart. The stores and the Data Docs
site point at the config variable `LLMETER_GX_OUTPUT`, which the check step sets to the
warehouse's folder: suites, validation definitions, checkpoints and validation results go to
`<warehouse folder>/gx_output/`, and the Data Docs to `<warehouse folder>/data_docs/`. So every
warehouse keeps its own results, and a run changes nothing in the repository except to add a
missing mart's asset to `great_expectations.yml`. Suites,
validation definitions and checkpoints are built from code on every run with
`add_or_update`, so a rerun replaces them instead of adding copies.

Each mart gets its own batch definition, validation definition and checkpoint, because a
checkpoint passes one set of batch parameters (one dataframe) to all its validation
definitions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

from llmeter.checks.suites import MartSuite

logger = logging.getLogger(__name__)

OUTPUT_VARIABLE = "LLMETER_GX_OUTPUT"
DATASOURCE_NAME = "published_marts"
BATCH_DEFINITION_NAME = "whole_mart"
DATA_DOCS_SITE = "local_site"


def open_context(project_root: Path, output_folder: Path) -> AbstractDataContext:
    """Open the GX project under `project_root`, writing its output to `output_folder`.

    Raises:
        FileNotFoundError: `gx/great_expectations.yml` is missing. GX would create a new project
            with other stores, so the committed one is required.
    """
    config = project_root / "gx" / "great_expectations.yml"
    if not config.is_file():
        raise FileNotFoundError(
            f"The Great Expectations project {config} is missing; restore gx/ from the "
            "LLMeter repository"
        )
    return gx.get_context(
        mode="file",
        project_root_dir=str(project_root),
        runtime_environment={OUTPUT_VARIABLE: str(output_folder)},
    )


def data_docs_index(output_folder: Path) -> Path:
    """Return the path of the Data Docs site's index page."""
    return output_folder / "data_docs" / "index.html"


def _batch_definition(context: AbstractDataContext, mart: str) -> BatchDefinition[Any]:
    """Return the whole-dataframe batch definition of `mart`, creating it on first use."""
    if DATASOURCE_NAME in context.data_sources.all():
        datasource = context.data_sources.get(DATASOURCE_NAME)
    else:
        datasource = context.data_sources.add_pandas(DATASOURCE_NAME)
    if mart in datasource.get_asset_names():
        asset = datasource.get_asset(mart)
    else:
        asset = datasource.add_dataframe_asset(mart)  # type: ignore[attr-defined]
    if any(existing.name == BATCH_DEFINITION_NAME for existing in asset.batch_definitions):
        batch_definition: BatchDefinition[Any] = asset.get_batch_definition(BATCH_DEFINITION_NAME)
    else:
        batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)
    return batch_definition


def register_assets(context: AbstractDataContext, mart_names: Iterable[str]) -> None:
    """Create the data asset and batch definition of every mart that has none yet.

    All checked marts get one, whether the published file has them or not, so that
    `great_expectations.yml` does not change from run to run.
    """
    for mart in mart_names:
        _batch_definition(context, mart)


def register(context: AbstractDataContext, suite: MartSuite) -> gx.Checkpoint:
    """Add or update the suite, validation definition and checkpoint of one mart."""
    batch_definition = _batch_definition(context, suite.mart)
    expectation_suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=suite.mart, expectations=list(suite.expectations))
    )
    validation_definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.mart, data=batch_definition, suite=expectation_suite)
    )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite.mart,
            validation_definitions=[validation_definition],
            result_format={"result_format": suite.result_format},
            actions=[],
        )
    )


def run_checkpoint(
    checkpoint: gx.Checkpoint, frame: pd.DataFrame, parameters: Mapping[str, Any]
) -> tuple[list[Any], list[Any]]:
    """Validate `frame`; return the expectation results and the stored results' identifiers."""
    checkpoint_result = checkpoint.run(
        batch_parameters={"dataframe": frame}, expectation_parameters=dict(parameters)
    )
    results: list[Any] = []
    for validation_result in checkpoint_result.run_results.values():
        results.extend(validation_result.results)
    return results, list(checkpoint_result.run_results)


def build_data_docs(
    context: AbstractDataContext,
    output_folder: Path,
    suite_names: Iterable[str],
    validation_result_identifiers: Iterable[Any],
) -> Path:
    """Render the pages of this run's suites and validation results, and the index page.

    Pages of earlier results stay as they were rendered, so the time does not grow with the
    number of stored results. The index lists them all.

    NOTE: validation results and their pages are never deleted, so `gx_output/validations/` and
    `data_docs/` grow by one result per checked mart and run.
    """
    identifiers: list[Any] = [ExpectationSuiteIdentifier(name) for name in suite_names]
    identifiers.extend(validation_result_identifiers)
    context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=identifiers)
    return data_docs_index(output_folder)
