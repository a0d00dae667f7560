"""llmeter_sdk.Sender: closed spool files posted to a real ingest endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import llmeter_sdk
import pytest

from llmeter.ingest.server import IngestServer, start_server

TOKEN = "sender-token-0123456789abcdef"
GEMINI = {
    "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 20},
    "modelVersion": "gemini-2.5-flash",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IngestServer]:
    running = start_server(tmp_path / "server-spool", TOKEN)
    yield running
    running.stop()


def server_records(server: IngestServer) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(server.spool_dir.glob("*.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def spool_with_records(folder: Path, count: int) -> None:
    llmeter_sdk.configure(folder)
    for number in range(count):
        llmeter_sdk.record(GEMINI, customer_id=f"customer-{number % 7}")
    assert llmeter_sdk.flush()
    llmeter_sdk.close()


def record_line(number: int, **fields: Any) -> str:
    record = {
        "event_id": f"sent-{number}",
        "occurred_at": "2026-10-31T12:00:00Z",
        "provider": "google",
        "model": "gemini-2.5-flash",
        "customer_id": "acme",
        **fields,
    }
    return json.dumps(record)


def test_sends_in_batches_of_1000(tmp_path: Path, server: IngestServer) -> None:
    client_spool = tmp_path / "client-spool"
    spool_with_records(client_spool, 2500)

    report = llmeter_sdk.send_spool(server.url, TOKEN, client_spool)

    event_ids = [record["event_id"] for record in server_records(server)]
    assert report.files_sent == 1
    assert report.records_accepted == 2500
    assert report.records_rejected == 0
    assert report.files_kept == 0
    # The endpoint writes one file per request: 1000 + 1000 + 500 records.
    assert len(list(server.spool_dir.glob("*.ndjson"))) == 3
    assert len(set(event_ids)) == 2500
    assert list(client_spool.glob("*.ndjson")) == []


def test_base_url_gets_ingest_path(tmp_path: Path, server: IngestServer) -> None:
    client_spool = tmp_path / "client-spool"
    spool_with_records(client_spool, 3)

    report = llmeter_sdk.send_spool(f"http://127.0.0.1:{server.port}", TOKEN, client_spool)

    assert report.records_accepted == 3


def test_rejected_records_are_kept_aside(tmp_path: Path, server: IngestServer) -> None:
    client_spool = tmp_path / "client-spool"
    client_spool.mkdir()
    lines = [
        record_line(1),
        record_line(2, customer_id="(none)"),
        record_line(3),
        record_line(4, output_tokens=-3),
    ]
    (client_spool / "calls-20261031T120000Z-1-aaaaaaaaaaaa.ndjson").write_text("\n".join(lines))
    (client_spool / "calls-20261031T120001Z-1-bbbbbbbbbbbb.ndjson.tmp").write_text("open file")

    report = llmeter_sdk.send_spool(server.url, TOKEN, client_spool)

    rejected_file = client_spool / "rejected" / "calls-20261031T120000Z-1-aaaaaaaaaaaa.ndjson"
    assert report.records_accepted == 2
    assert report.records_rejected == 2
    assert rejected_file.read_text().splitlines() == [lines[1], lines[3]]
    assert sorted(record["event_id"] for record in server_records(server)) == ["sent-1", "sent-3"]
    assert [path.name for path in client_spool.glob("*.ndjson*")] == [
        "calls-20261031T120001Z-1-bbbbbbbbbbbb.ndjson.tmp"
    ]


def test_invalid_token_stops_and_keeps_files(tmp_path: Path, server: IngestServer) -> None:
    client_spool = tmp_path / "client-spool"
    spool_with_records(client_spool, 3)

    report = llmeter_sdk.send_spool(server.url, "wrong-token", client_spool)

    assert report.error == "the endpoint responded 401: the token is missing or invalid"
    assert report.files_kept == 1
    assert len(list(client_spool.glob("*.ndjson"))) == 1
    assert server_records(server) == []


class FlakyEndpoint(BaseHTTPRequestHandler):
    """Responds 503 with Retry-After: 0 to the first two posts, then 202 for every record."""

    posts: ClassVar[list[int]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FlakyEndpoint.posts.append(len(body.splitlines()))
        if len(FlakyEndpoint.posts) <= 2:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = json.dumps({"accepted": len(body.splitlines()), "rejected": []}).encode()
        self.send_response(202)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def test_retries_until_accepted(tmp_path: Path) -> None:
    client_spool = tmp_path / "client-spool"
    spool_with_records(client_spool, 4)
    FlakyEndpoint.posts = []
    flaky = ThreadingHTTPServer(("127.0.0.1", 0), FlakyEndpoint)
    thread = threading.Thread(target=flaky.serve_forever, daemon=True)
    thread.start()
    waits: list[float] = []
    try:
        sender = llmeter_sdk.Sender(
            f"http://127.0.0.1:{flaky.server_address[1]}/v1/ingest",
            TOKEN,
            client_spool,
            sleep=waits.append,
        )
        report = sender.send_pending()
    finally:
        flaky.shutdown()
        flaky.server_close()

    assert FlakyEndpoint.posts == [4, 4, 4]
    assert waits == [0.0, 0.0]
    assert report.files_sent == 1
    assert report.records_accepted == 4


def test_unreachable_endpoint_keeps_file(tmp_path: Path) -> None:
    client_spool = tmp_path / "client-spool"
    spool_with_records(client_spool, 2)
    with_closed_port = ThreadingHTTPServer(("127.0.0.1", 0), FlakyEndpoint)
    port = with_closed_port.server_address[1]
    with_closed_port.server_close()
    waits: list[float] = []

    report = llmeter_sdk.Sender(
        f"http://127.0.0.1:{port}/v1/ingest",
        TOKEN,
        client_spool,
        max_attempts=3,
        backoff_seconds=1.0,
        sleep=waits.append,
    ).send_pending()

    assert report.files_kept == 1
    assert report.files_sent == 0
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 1.0
    assert 1.0 <= waits[1] <= 2.0
    assert len(list(client_spool.glob("*.ndjson"))) == 1


def test_sender_requires_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMETER_INGEST_TOKEN", raising=False)

    with pytest.raises(ValueError, match="LLMETER_INGEST_TOKEN"):
        llmeter_sdk.Sender("http://127.0.0.1:1/v1/ingest", spool_dir=tmp_path)
