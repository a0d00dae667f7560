"""The call log loader: closed spool files into raw_call_logs with real dlt and DuckDB files."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmeter.audit import SubjectResult
from llmeter.extract import SourceSkippedError
from llmeter.settings import Settings
from llmeter.steps import RunContext
from pipelines.call_logs import extract
from pipelines.call_logs.loader import group_files, load_spool
from pipelines.call_logs.settings import CALLS_SCHEMA
from pipelines.call_logs.spool import SpoolFile, SpoolFolder

SECRET = "SECRET PROMPT do not store"
# Past 2^53 a float64 cannot hold every integer, so an inferred DOUBLE column would round it.
BIG_COUNT = 2**53 + 1
TABLES = ("llm_calls", "quarantine", "loaded_files")


def call_record(event_id: str, **fields: Any) -> dict[str, Any]:
    """A valid OpenAI call record; `fields` override or add fields."""
    record: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": "2026-10-01T12:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-2024-08-06",
        "customer_id": "acme",
        "input_uncached_tokens": 100,
        "output_tokens": 20,
        "schema_version": 1,
    }
    record.update(fields)
    return record


def line(record: object) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


def settings_for(root: Path) -> Settings:
    return Settings(
        project_root=root,
        warehouse_path=root / "warehouse" / "llmeter.duckdb",
        published_path=root / "warehouse" / "published" / "llmeter.duckdb",
        memory_limit="1GB",
        as_of_date=dt.date(2026, 11, 1),
    )


def run_extract(settings: Settings) -> list[SubjectResult]:
    return extract(RunContext(settings=settings, run_id="test-run", command="extract"))


def write_spool_file(path: Path, content: bytes, modified: dt.datetime) -> None:
    """Write a closed spool file with a fixed modification time, which orders the files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    timestamp = modified.timestamp()
    os.utime(path, (timestamp, timestamp))


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def file_results(results: list[SubjectResult]) -> dict[str, SubjectResult]:
    return {result.subject: result for result in results if result.subject != "call_logs"}


def table_contents(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: query(settings, f"select * from raw_call_logs.{table} order by all")
        for table in TABLES
    }


# One line per rejection reason, each carrying the secret in a content field, between valid
# records, a blank line, an identical and a conflicting duplicate. Line numbers are the keys of
# EXPECTED_REASONS.
MIXED_LINES: list[bytes] = [
    line(
        call_record(
            "good-tokyo",
            occurred_at="2026-10-02T08:30:00+09:00",
            prompt=SECRET,
            messages=[{"role": "user", "content": SECRET}],
            tags={"feature": "search"},
            project_id="proj_1",
        )
    ),
    line(
        call_record(
            "good-anthropic",
            provider="anthropic",
            model="claude-sonnet-4-5-20250929",
            service_tier="priority_on_demand",
            workspace_id="wrkspc_1",
            cache_read_tokens=5000,
            cache_write_1h_tokens=300,
            latency_ms=812,
            status="ok",
            request_id="msg_1",
            api_key_id="apikey_1",
        )
    ),
    b"\n",
    b'{"event_id": "bad-json", "prompt": "' + SECRET.encode() + b'"\n',
    line(["an array", SECRET]),
    line(
        {k: v for k, v in call_record("no-customer", prompt=SECRET).items() if k != "customer_id"}
    ),
    line(call_record("e" * 129, prompt=SECRET)),
    line(call_record("long-customer", customer_id="c" * 257, prompt=SECRET)),
    line(call_record("string-count", output_tokens="120", prompt=SECRET)),
    line(call_record("float-count", input_uncached_tokens=87.5, prompt=SECRET)),
    line(call_record("negative-count", cache_read_tokens=-5, prompt=SECRET)),
    line(call_record("unknown-provider", provider="mistral", prompt=SECRET)),
    line(call_record("reserved-unattributed", customer_id="(unattributed)", prompt=SECRET)),
    line(call_record("reserved-none", customer_id="(none)", prompt=SECRET)),
    line(call_record("bad-day", occurred_at="2026-02-30T00:00:00Z", prompt=SECRET)),
    line(call_record("no-offset", occurred_at="2026-10-01T12:00:00", prompt=SECRET)),
    b'{"event_id": "latin-1", "customer_id": "caf\xe9", "prompt": "' + SECRET.encode() + b'"}\n',
    line(
        call_record(
            "good-tokyo",
            occurred_at="2026-10-02T08:30:00+09:00",
            prompt=SECRET,
            tags={"feature": "search"},
            project_id="proj_1",
        )
    ),
    line(
        call_record(
            "good-anthropic",
            provider="anthropic",
            model="claude-sonnet-4-5-20250929",
            service_tier="priority_on_demand",
            workspace_id="wrkspc_1",
            cache_read_tokens=5000,
            cache_write_1h_tokens=300,
            output_tokens=21,
            prompt=SECRET,
        )
    ),
    line(call_record("good-big", latency_ms=BIG_COUNT, completion=SECRET)),
    b'{"event_id": "cut-off", "prompt": "' + SECRET.encode(),
]

TOKEN_RANGE = "a JSON integer from 0 to 1000000000000"
LATENCY_RANGE = "a JSON integer from 0 to 9223372036854775807"
EXPECTED_REASONS = {
    4: "invalid JSON: the line does not parse as JSON",
    5: "not a JSON object: the line is an array",
    6: "missing required field customer_id",
    7: "invalid event_id: expected at most 128 characters, got 129",
    8: "invalid customer_id: expected at most 256 characters, got 257",
    9: f"invalid output_tokens: expected {TOKEN_RANGE}, got a string",
    10: f"invalid input_uncached_tokens: expected {TOKEN_RANGE}, got 87.5",
    11: f"invalid cache_read_tokens: expected {TOKEN_RANGE}, got -5",
    12: "unknown provider 'mistral': expected anthropic, google or openai",
    13: "invalid customer_id: '(unattributed)' is a reserved identifier",
    14: "invalid customer_id: '(none)' is a reserved identifier",
    15: "invalid occurred_at: expected an RFC 3339 timestamp with an offset,"
    " like 2026-10-01T12:00:00Z, got '2026-02-30T00:00:00Z'",
    16: "invalid occurred_at: expected an RFC 3339 timestamp with an offset,"
    " like 2026-10-01T12:00:00Z, got '2026-10-01T12:00:00'",
    17: "invalid UTF-8: the line contains bytes that are not valid UTF-8",
    19: "conflicting duplicate: event_id first seen in mixed.ndjson line 2,"
    " which differs in output_tokens",
    21: "truncated last line: the file ends without a newline inside a line that does not parse",
}

EARLY = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)
LATE = dt.datetime(2026, 10, 1, 13, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def mixed_load(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[SubjectResult]]:
    """The mixed file in the default spool folder (data/call_logs), loaded once."""
    root = tmp_path_factory.mktemp("mixed")
    write_spool_file(root / "data" / "call_logs" / "mixed.ndjson", b"".join(MIXED_LINES), EARLY)
    settings = settings_for(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SOURCES__CALL_LOGS__BUCKET_URL", raising=False)
        results = run_extract(settings)
    return settings, results


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Path]:
    """Settings and a spool folder named by SOURCES__CALL_LOGS__BUCKET_URL."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setenv("SOURCES__CALL_LOGS__BUCKET_URL", str(folder))
    return settings_for(tmp_path), folder


def test_mixed_file_counts(mixed_load: tuple[Settings, list[SubjectResult]]) -> None:
    _, results = mixed_load

    mixed = file_results(results)["call_logs:mixed.ndjson"]

    assert mixed.rows_read == 20
    assert mixed.rows_loaded == 3
    assert mixed.rows_duplicate == 1
    assert mixed.rows_rejected == 16
    assert mixed.rows_read == mixed.rows_loaded + mixed.rows_duplicate + mixed.rows_rejected
    assert mixed.status == "warned"
    assert mixed.details["blank_lines"] == 1
    assert mixed.details["conflicting_duplicates"] == 1


def test_mixed_file_content_fields_counted(
    mixed_load: tuple[Settings, list[SubjectResult]],
) -> None:
    _, results = mixed_load

    mixed = file_results(results)["call_logs:mixed.ndjson"]

    # Every object line but 1, 2, 5 (an array) and the unparseable 4, 17 and 21 carried one.
    assert mixed.details["content_fields_dropped"] == 15
    assert mixed.details["content_field_names"] == ["completion", "messages", "prompt"]


def test_mixed_file_loaded_calls(mixed_load: tuple[Settings, list[SubjectResult]]) -> None:
    settings, _ = mixed_load

    rows = query(
        settings,
        "select event_id, occurred_at, customer_id, output_tokens, source_line, latency_ms"
        " from raw_call_logs.llm_calls order by source_line",
    )

    assert [row[0] for row in rows] == ["good-tokyo", "good-anthropic", "good-big"]
    assert rows[0][1] == dt.datetime(2026, 10, 1, 23, 30, tzinfo=dt.UTC)
    assert rows[1][3] == 20
    assert rows[2][5] == BIG_COUNT
    assert [row[4] for row in rows] == [1, 2, 20]


def test_mixed_file_defaults_and_fields(mixed_load: tuple[Settings, list[SubjectResult]]) -> None:
    settings, _ = mixed_load

    rows = query(
        settings,
        "select event_id, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,"
        " web_search_requests, service_tier, is_batch, project_id, workspace_id, api_key_id,"
        " tags, latency_ms, status, request_id, schema_version, source_file"
        " from raw_call_logs.llm_calls where event_id in ('good-tokyo', 'good-anthropic')"
        " order by event_id",
    )

    assert rows == [
        (
            "good-anthropic",
            5000,
            0,
            300,
            0,
            "priority_on_demand",
            False,
            None,
            "wrkspc_1",
            "apikey_1",
            "{}",
            812,
            "ok",
            "msg_1",
            1,
            "mixed.ndjson",
        ),
        (
            "good-tokyo",
            0,
            0,
            0,
            0,
            None,
            False,
            "proj_1",
            None,
            None,
            '{"feature":"search"}',
            None,
            None,
            None,
            1,
            "mixed.ndjson",
        ),
    ]


def test_mixed_file_quarantine_reasons(mixed_load: tuple[Settings, list[SubjectResult]]) -> None:
    settings, _ = mixed_load

    rows = query(
        settings,
        "select line_number, reason from raw_call_logs.quarantine order by line_number",
    )

    assert dict(rows) == EXPECTED_REASONS


def test_quarantine_raw_lines(mixed_load: tuple[Settings, list[SubjectResult]]) -> None:
    settings, _ = mixed_load

    rows = query(
        settings,
        "select line_number, event_id, raw_line, raw_line_bytes, raw_line_sha256, content_fields"
        " from raw_call_logs.quarantine where line_number in (4, 6, 19)"
        " order by line_number",
    )

    unparseable = MIXED_LINES[3].rstrip(b"\n")
    assert rows[0] == (
        4,
        None,
        None,
        len(unparseable),
        hashlib.sha256(unparseable).hexdigest(),
        None,
    )
    assert json.loads(rows[1][2]) == {
        k: v for k, v in call_record("no-customer").items() if k != "customer_id"
    }
    assert rows[1][5] == "prompt"
    assert rows[2][1] == "good-anthropic"
    assert json.loads(rows[2][2])["output_tokens"] == 21
    assert "prompt" not in json.loads(rows[2][2])


def test_content_never_stored(mixed_load: tuple[Settings, list[SubjectResult]]) -> None:
    settings, _ = mixed_load

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        columns = connection.execute(
            "select table_name, column_name from duckdb_columns()"
            " where schema_name = 'raw_call_logs'"
        ).fetchall()
        found = [
            (table, column)
            for table, column in columns
            if connection.execute(
                f'select count(*) from raw_call_logs."{table}"'
                f""" where contains(cast("{column}" as varchar), 'SECRET PROMPT')"""
            ).fetchall()[0][0]
        ]
        tables_searched = {table for table, _ in columns}
    # dlt deletes its parquet copies of the rows once they are loaded.
    parquet_files = list(settings.warehouse_path.parent.rglob("*.parquet"))

    assert found == []
    assert {"llm_calls", "quarantine", "loaded_files"} <= tables_searched
    assert parquet_files == []


def test_loaded_files_row(mixed_load: tuple[Settings, list[SubjectResult]]) -> None:
    settings, _ = mixed_load

    rows = query(
        settings,
        "select file_name, size_bytes, modified_at, lines_read, rows_loaded, rows_duplicate,"
        " rows_rejected, blank_lines, content_fields_dropped from raw_call_logs.loaded_files",
    )

    assert rows == [
        ("mixed.ndjson", len(b"".join(MIXED_LINES)), EARLY, 20, 3, 1, 16, 1, 15),
    ]


def test_declared_columns_only(mixed_load: tuple[Settings, list[SubjectResult]]) -> None:
    settings, _ = mixed_load

    rows = query(
        settings,
        "select column_name, data_type from duckdb_columns()"
        " where schema_name = 'raw_call_logs' and table_name = 'llm_calls'"
        " order by column_index",
    )

    assert [name for name, _ in rows] == CALLS_SCHEMA.names
    assert dict(rows)["occurred_at"] == "TIMESTAMP WITH TIME ZONE"
    assert dict(rows)["output_tokens"] == "BIGINT"
    assert dict(rows)["is_batch"] == "BOOLEAN"


def test_second_run_loads_nothing(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    write_spool_file(folder / "a.ndjson", line(call_record("a-1")) + b"{broken\n", EARLY)
    run_extract(settings)
    before = table_contents(settings)

    results = run_extract(settings)

    assert file_results(results) == {}
    assert results[-1].details["files_already_loaded"] == 1
    assert results[-1].details["files_loaded"] == 0
    assert table_contents(settings) == before
    assert len(before["llm_calls"]) == 1
    assert len(before["quarantine"]) == 1


def test_same_event_in_two_files(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    shared = line(call_record("shared", customer_id="first"))
    write_spool_file(folder / "b-older.ndjson", shared, EARLY)
    write_spool_file(folder / "a-newer.ndjson", shared + line(call_record("other")), LATE)

    results = file_results(run_extract(settings))

    assert results["call_logs:b-older.ndjson"].rows_loaded == 1
    assert results["call_logs:a-newer.ndjson"].rows_loaded == 1
    assert results["call_logs:a-newer.ndjson"].rows_duplicate == 1
    assert query(
        settings, "select source_file from raw_call_logs.llm_calls where event_id = 'shared'"
    ) == [("b-older.ndjson",)]


def test_duplicate_of_earlier_load(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    write_spool_file(folder / "one.ndjson", line(call_record("again")), EARLY)
    run_extract(settings)
    write_spool_file(
        folder / "two.ndjson",
        line(call_record("again")) + line(call_record("again", customer_id="someone-else")),
        LATE,
    )

    results = file_results(run_extract(settings))

    two = results["call_logs:two.ndjson"]
    assert (two.rows_read, two.rows_loaded, two.rows_duplicate, two.rows_rejected) == (2, 0, 1, 1)
    assert query(settings, "select customer_id from raw_call_logs.llm_calls") == [("acme",)]
    assert query(
        settings, "select source_file, line_number, reason from raw_call_logs.quarantine"
    ) == [
        (
            "two.ndjson",
            2,
            "conflicting duplicate: event_id first seen in one.ndjson line 1,"
            " which differs in customer_id",
        )
    ]


def test_open_spool_file_ignored(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    write_spool_file(folder / "closed.ndjson", line(call_record("closed")), EARLY)
    write_spool_file(folder / "open.ndjson.tmp", line(call_record("still-open")), EARLY)

    results = run_extract(settings)

    assert list(file_results(results)) == ["call_logs:closed.ndjson"]
    assert query(settings, "select event_id from raw_call_logs.llm_calls") == [("closed",)]


def test_json_type_change_between_files(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    write_spool_file(
        folder / "first.ndjson", line(call_record("n-1", latency_ms=12, extra=1)), EARLY
    )
    run_extract(settings)
    write_spool_file(
        folder / "second.ndjson",
        line(call_record("n-2", latency_ms="12", extra="text"))
        + line(call_record("n-3", extra={"nested": True})),
        LATE,
    )

    results = file_results(run_extract(settings))

    second = results["call_logs:second.ndjson"]
    assert (second.rows_loaded, second.rows_rejected) == (1, 1)
    columns = query(
        settings,
        "select column_name from duckdb_columns()"
        " where schema_name = 'raw_call_logs' and table_name = 'llm_calls' order by column_index",
    )
    assert [name for (name,) in columns] == CALLS_SCHEMA.names
    assert query(settings, "select reason from raw_call_logs.quarantine") == [
        (f"invalid latency_ms: expected {LATENCY_RANGE}, got a string",)
    ]


def test_call_dated_after_tomorrow_rejected(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
    write_spool_file(
        folder / "clocks.ndjson",
        line(call_record("c-1", occurred_at=tomorrow.strftime("%Y-%m-%dT%H:%M:%SZ")))
        + line(call_record("c-2", occurred_at="2099-01-01T00:00:00Z")),
        EARLY,
    )

    results = file_results(run_extract(settings))

    clocks = results["call_logs:clocks.ndjson"]
    assert (clocks.rows_read, clocks.rows_loaded, clocks.rows_rejected) == (2, 1, 1)
    assert query(settings, "select event_id from raw_call_logs.llm_calls") == [("c-1",)]
    assert query(settings, "select reason from raw_call_logs.quarantine") == [
        (
            "invalid occurred_at: expected a time at most a day after the load,"
            " got '2099-01-01T00:00:00Z'",
        )
    ]


def test_changed_file_not_reloaded(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    path = folder / "grows.ndjson"
    write_spool_file(path, line(call_record("g-1")), EARLY)
    run_extract(settings)
    write_spool_file(path, line(call_record("g-1")) + line(call_record("g-2")), LATE)

    results = run_extract(settings)

    warning = file_results(results)["call_logs:grows.ndjson"]
    assert warning.status == "warned"
    assert warning.rows_read is None
    assert "changed after it was loaded" in warning.message
    assert results[-1].details["files_changed"] == 1
    assert results[-1].status == "warned"
    assert query(settings, "select event_id from raw_call_logs.llm_calls") == [("g-1",)]


def test_gzip_and_crlf_files(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    crlf = line(call_record("crlf-1")).replace(b"\n", b"\r\n")
    write_spool_file(folder / "windows.ndjson", b"\xef\xbb\xbf" + crlf + b"\r\n", EARLY)
    write_spool_file(
        folder / "sub" / "packed.ndjson.gz", gzip.compress(line(call_record("gz-1"))), LATE
    )

    results = file_results(run_extract(settings))

    assert results["call_logs:windows.ndjson"].rows_loaded == 1
    assert results["call_logs:windows.ndjson"].details["blank_lines"] == 1
    assert results["call_logs:sub/packed.ndjson.gz"].rows_loaded == 1
    assert query(
        settings, "select event_id, source_file from raw_call_logs.llm_calls order by event_id"
    ) == [("crlf-1", "windows.ndjson"), ("gz-1", "sub/packed.ndjson.gz")]


def test_missing_folder_skips_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__CALL_LOGS__BUCKET_URL", str(tmp_path / "nowhere"))

    with pytest.raises(SourceSkippedError, match="nowhere does not exist"):
        run_extract(settings_for(tmp_path))


def test_empty_folder_loads_nothing(spool: tuple[Settings, Path]) -> None:
    settings, _ = spool

    results = run_extract(settings)

    assert [result.subject for result in results] == ["call_logs"]
    assert results[0].details["files_listed"] == 0
    assert table_contents(settings) == {table: [] for table in TABLES}


def test_load_groups_deduplicate(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    write_spool_file(folder / "g1.ndjson", line(call_record("grouped")), EARLY)
    write_spool_file(folder / "g2.ndjson", line(call_record("grouped")), LATE)
    write_spool_file(folder / "g3.ndjson", line(call_record("grouped", model="gpt-4o-mini")), LATE)

    results = file_results(load_spool(settings, SpoolFolder(str(folder)), group_bytes=1))

    assert results["call_logs:g1.ndjson"].rows_loaded == 1
    assert results["call_logs:g2.ndjson"].rows_duplicate == 1
    assert results["call_logs:g3.ndjson"].rows_rejected == 1
    assert query(settings, "select count(*) from raw_call_logs._dlt_loads") == [(3,)]
    assert query(settings, "select reason from raw_call_logs.quarantine") == [
        ("conflicting duplicate: event_id first seen in g1.ndjson line 1, which differs in model",)
    ]


def spool_file(name: str, size_bytes: int) -> SpoolFile:
    return SpoolFile(name=name, url=name, size_bytes=size_bytes, modified_at=EARLY)


def test_group_files_by_size() -> None:
    files = [spool_file("a", 40), spool_file("b", 60), spool_file("c", 1), spool_file("d", 250)]

    groups = group_files(files, group_bytes=100)

    assert [[file.name for file in group] for group in groups] == [["a", "b"], ["c"], ["d"]]


def test_group_files_empty() -> None:
    assert group_files([], group_bytes=100) == []


def test_group_bytes_must_be_positive(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool

    with pytest.raises(ValueError, match="group_bytes must be at least 1, got 0"):
        load_spool(settings, SpoolFolder(str(folder)), group_bytes=0)


# Three files in two load groups: first.ndjson and second.ndjson form the first group and
# third.ndjson the second, whose repeats of the first group's records are found in the
# warehouse. Each file has a duplicate, a conflicting duplicate or an invalid line.
GROUPED_FILES: dict[str, tuple[bytes, dt.datetime]] = {
    "first.ndjson": (
        line(call_record("e-1")) + line(call_record("e-2")) + b"{not json\n",
        dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC),
    ),
    "second.ndjson": (
        line(call_record("e-1")) + line(call_record("e-3")) + line(call_record("e-3")),
        dt.datetime(2026, 10, 1, 12, 5, tzinfo=dt.UTC),
    ),
    "third.ndjson": (
        line(call_record("e-2"))
        + line(call_record("e-3", output_tokens=99))
        + line(call_record("e-4"))
        + line(call_record("e-1")),
        dt.datetime(2026, 10, 1, 12, 10, tzinfo=dt.UTC),
    ),
}


def test_groups_count_every_line(spool: tuple[Settings, Path]) -> None:
    settings, folder = spool
    for name, (content, modified) in GROUPED_FILES.items():
        write_spool_file(folder / name, content, modified)
    first_group_bytes = sum(
        len(GROUPED_FILES[name][0]) for name in ("first.ndjson", "second.ndjson")
    )

    results = file_results(
        load_spool(settings, SpoolFolder(str(folder)), group_bytes=first_group_bytes)
    )

    counts = {
        subject: (result.rows_read, result.rows_loaded, result.rows_duplicate, result.rows_rejected)
        for subject, result in results.items()
    }
    assert counts == {
        "call_logs:first.ndjson": (3, 2, 0, 1),
        "call_logs:second.ndjson": (3, 1, 2, 0),
        "call_logs:third.ndjson": (4, 1, 2, 1),
    }
    read = sum(result.rows_read or 0 for result in results.values())
    loaded = sum(result.rows_loaded or 0 for result in results.values())
    duplicate = sum(result.rows_duplicate or 0 for result in results.values())
    rejected = sum(result.rows_rejected or 0 for result in results.values())
    assert read == 10
    assert read == loaded + duplicate + rejected
    assert query(settings, "select count(*) from raw_call_logs._dlt_loads") == [(2,)]
    assert query(
        settings, "select event_id, source_file from raw_call_logs.llm_calls order by event_id"
    ) == [
        ("e-1", "first.ndjson"),
        ("e-2", "first.ndjson"),
        ("e-3", "second.ndjson"),
        ("e-4", "third.ndjson"),
    ]
    assert query(
        settings,
        "select source_file, line_number, reason from raw_call_logs.quarantine"
        " order by source_file",
    ) == [
        ("first.ndjson", 3, "invalid JSON: the line does not parse as JSON"),
        (
            "third.ndjson",
            2,
            "conflicting duplicate: event_id first seen in second.ndjson line 2,"
            " which differs in output_tokens",
        ),
    ]
    assert query(
        settings,
        "select file_name, lines_read, rows_loaded, rows_duplicate, rows_rejected"
        " from raw_call_logs.loaded_files order by file_name",
    ) == [
        ("first.ndjson", 3, 2, 0, 1),
        ("second.ndjson", 3, 1, 2, 0),
        ("third.ndjson", 4, 1, 2, 1),
    ]
