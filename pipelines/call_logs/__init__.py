"""The call log source: closed NDJSON spool files into `raw_call_logs`.

The SDK and the ingest endpoint write one JSON record per LLM call into spool files
(`*.ndjson`, renamed from `*.ndjson.tmp` once closed; `*.ndjson.gz` is read too). This source
loads each closed file once into `raw_call_logs.llm_calls`, rejected lines into
`raw_call_logs.quarantine`, and the files themselves into `raw_call_logs.loaded_files`.

The spool folder is the dlt setting `sources.call_logs.bucket_url`
(`SOURCES__CALL_LOGS__BUCKET_URL`): a local folder, relative to the project root, or any URL
that dlt's filesystem source reads (`s3://`, `gs://`, `az://`, ...). It defaults to
`data/call_logs`.
"""

from __future__ import annotations

from llmeter.audit import SubjectResult
from llmeter.extract import SourceSkippedError
from llmeter.steps import RunContext
from pipelines.call_logs.loader import load_spool, resolve_bucket_url
from pipelines.call_logs.settings import BUCKET_URL_ENVIRONMENT_VARIABLE
from pipelines.call_logs.spool import SpoolFolder, SpoolFolderNotFoundError

__all__ = ["extract"]


def extract(context: RunContext) -> list[SubjectResult]:
    """Load the closed spool files that no earlier run loaded.

    Returns one audit row per new file (rows read = loaded + duplicate + rejected), one warning
    row per file that changed after it was loaded, and a `call_logs` row with file counts.

    Raises:
        SourceSkippedError: the spool folder does not exist.
    """
    bucket_url = resolve_bucket_url(context.settings.project_root)
    try:
        folder = SpoolFolder(bucket_url)
    except SpoolFolderNotFoundError as error:
        raise SourceSkippedError(
            f"{error}; create it, or set {BUCKET_URL_ENVIRONMENT_VARIABLE} to the folder or "
            "bucket URL the SDK and the ingest endpoint write to"
        ) from error
    return load_spool(context.settings, folder)
