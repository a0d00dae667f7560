"""The ingest endpoint over real HTTP on 127.0.0.1: auth, limits, partial acceptance, durability.

Most tests run the server in-process on an ephemeral port; the command-line tests start
`llmeter ingest serve --port 0` as a child process and stop it with SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmeter.ingest.server import IngestServer, start_server

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def server(spool_dir: Path) -> Iterator[IngestServer]:
    running = start_server(spool_dir, TOKEN)
    yield running
    running.stop()


def make_record(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"event-{number}",
        "occurred_at": "2026-10-31T12:00:00Z",
        "provider": "openai",
        "model": "gpt-5-mini-2025-08-07",
        "customer_id": "acme",
        "input_uncached_tokens": 86,
        "cache_read_tokens": 1920,
        "output_tokens": 300,
        **fields,
    }


def post(
    server: IngestServer,
    body: bytes | list[Any],
    token: str | None = TOKEN,
    content_type: str | None = "application/json",
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if isinstance(body, list) else body
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("POST", "/v1/ingest", body=data, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def spooled(spool_dir: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(spool_dir.glob("*.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def test_health(server: IngestServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/healthz")
    response = connection.getresponse()

    assert response.status == 200
    assert json.loads(response.read()) == {"status": "ok"}


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_bad_token_is_401(server: IngestServer, spool_dir: Path, token: str | None) -> None:
    status, answer = post(server, [make_record(1)], token=token)

    assert status == 401
    assert "bearer token" in answer["error"]
    assert spooled(spool_dir) == []


def test_accepts_array(server: IngestServer, spool_dir: Path) -> None:
    status, answer = post(server, [make_record(1), make_record(2)])

    assert status == 202
    assert answer == {"accepted": 2, "rejected": [], "content_fields_dropped": 0}
    assert [record["event_id"] for record in spooled(spool_dir)] == ["event-1", "event-2"]


def test_accepts_ndjson(server: IngestServer, spool_dir: Path) -> None:
    body = (json.dumps(make_record(1)) + "\n\n" + json.dumps(make_record(2)) + "\n").encode()

    status, answer = post(server, body, content_type="application/x-ndjson")

    assert status == 202
    assert answer["accepted"] == 2
    assert len(spooled(spool_dir)) == 2


def test_partial_acceptance(server: IngestServer, spool_dir: Path) -> None:
    records = [
        make_record(0),
        make_record(1, customer_id="(unattributed)"),
        make_record(2),
        make_record(3, output_tokens="120"),
        make_record(4),
    ]

    status, answer = post(server, records)

    assert status == 202
    assert answer["accepted"] == 3
    assert answer["rejected"] == [
        {"index": 1, "reason": "customer_id (unattributed) is a reserved identifier"},
        {"index": 3, "reason": "output_tokens must be a JSON integer >= 0, got a string"},
    ]
    assert [record["event_id"] for record in spooled(spool_dir)] == [
        "event-0",
        "event-2",
        "event-4",
    ]


def test_float_token_count_rejected(server: IngestServer) -> None:
    body = b"[" + json.dumps(make_record(1))[:-1].encode() + b', "reasoning_tokens": 87.5}]'

    status, answer = post(server, body)

    assert status == 202
    assert answer["accepted"] == 0
    assert answer["rejected"] == [
        {
            "index": 0,
            "reason": "reasoning_tokens must be a JSON integer >= 0, "
            "got a number with a fraction or exponent",
        }
    ]


def test_ndjson_bad_line_rejected_alone(server: IngestServer, spool_dir: Path) -> None:
    body = (json.dumps(make_record(1)) + "\n{not json\n" + json.dumps(make_record(2))).encode()

    status, answer = post(server, body, content_type="application/x-ndjson")

    assert status == 202
    assert answer["accepted"] == 2
    assert answer["rejected"][0]["index"] == 1
    assert answer["rejected"][0]["reason"].startswith("line 2 is not valid JSON")


def test_content_fields_dropped(
    server: IngestServer, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = [
        make_record(1, prompt="SECRET-PROMPT", messages=[{"content": "SECRET-MESSAGE"}]),
        make_record(2, completion="SECRET-COMPLETION"),
        make_record(3),
    ]

    with caplog.at_level(logging.INFO, logger="llmeter.ingest"):
        status, answer = post(server, records)

    spool_text = "".join(path.read_text() for path in spool_dir.glob("*.ndjson"))
    assert status == 202
    assert answer == {"accepted": 3, "rejected": [], "content_fields_dropped": 2}
    assert "SECRET" not in spool_text
    assert '"prompt"' not in spool_text
    assert "SECRET" not in caplog.text
    assert "completion, messages, prompt" in caplog.text


def test_log_never_contains_token(server: IngestServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="llmeter.ingest"):
        post(server, [make_record(1)])
        post(server, [make_record(2)], token="wrong-token-value")

    assert "Ingested from 127.0.0.1: 1 records, 1 accepted, 0 rejected" in caplog.text
    assert TOKEN not in caplog.text
    assert "wrong-token-value" not in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason_start"),
    [
        (b"this is not json", "application/json", 400, "body is not valid JSON"),
        (b"this is not json", "application/x-ndjson", 400, "body is not JSON or NDJSON"),
        (b'{"event_id": "a"}', "application/json", 400, "body must be a JSON array"),
        (b"", "application/json", 400, "body is empty"),
        (b"\xff\xfe[]", "application/json", 400, "body is not valid UTF-8"),
        (b"[]", "text/plain", 415, "Content-Type text/plain is not supported"),
    ],
)
def test_invalid_body(
    server: IngestServer,
    body: bytes,
    content_type: str,
    status: int,
    reason_start: str,
) -> None:
    answer_status, answer = post(server, body, content_type=content_type)

    assert answer_status == status
    assert answer["error"].startswith(reason_start)


def test_array_without_content_type(server: IngestServer) -> None:
    status, answer = post(server, json.dumps([make_record(1)]).encode(), content_type=None)

    assert status == 202
    assert answer["accepted"] == 1


def test_empty_array_writes_nothing(server: IngestServer, spool_dir: Path) -> None:
    status, answer = post(server, [])

    assert status == 202
    assert answer["accepted"] == 0
    assert list(spool_dir.iterdir()) == []


def test_more_than_1000_records(server: IngestServer, spool_dir: Path) -> None:
    status, answer = post(server, [make_record(number) for number in range(1001)])

    assert status == 413
    assert answer["error"] == "body holds 1001 records; the maximum is 1000 per request"
    assert spooled(spool_dir) == []


def test_exactly_1000_records(server: IngestServer, spool_dir: Path) -> None:
    status, answer = post(server, [make_record(number) for number in range(1000)])

    assert status == 202
    assert answer["accepted"] == 1000
    assert len(list(spool_dir.glob("*.ndjson"))) == 1


def test_body_over_limit_is_413(spool_dir: Path) -> None:
    small = start_server(spool_dir, TOKEN, max_body_bytes=1024)
    try:
        status, answer = post(small, [make_record(number) for number in range(20)])
    finally:
        small.stop()

    assert status == 413
    assert answer["error"].startswith("body has ")
    assert "the maximum is 1024 bytes" in answer["error"]


def test_default_limit_is_5_mib(server: IngestServer) -> None:
    # Only the headers are sent, because the server rejects the request from Content-Length.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/ingest HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n".encode()
            + f"Content-Length: {5 * 1024 * 1024 + 1}\r\n\r\n".encode()
        )
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    assert answer.startswith(b"HTTP/1.0 413")
    assert b"the maximum is 5242880 bytes" in answer


def test_missing_content_length_is_411(server: IngestServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/ingest HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()
        )
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    assert answer.startswith(b"HTTP/1.0 411")
    assert b"missing Content-Length header" in answer


def test_truncated_body_is_400(server: IngestServer, spool_dir: Path) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/ingest HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n".encode()
            + b"[{}]"
        )
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    assert answer.startswith(b"HTTP/1.0 400")
    assert b"body ended after 4 of 100 bytes" in answer
    assert spooled(spool_dir) == []


def test_concurrent_clients_land_once(server: IngestServer, spool_dir: Path) -> None:
    failures: list[str] = []

    def client(thread_number: int) -> None:
        for batch in range(5):
            records = [
                make_record(
                    thread_number * 1000 + batch * 10 + item, customer_id=f"c{thread_number}"
                )
                for item in range(10)
            ]
            status, answer = post(server, records)
            if status != 202 or answer["accepted"] != 10:
                failures.append(f"thread {thread_number}: {status} {answer}")

    threads = [threading.Thread(target=client, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    event_ids = [record["event_id"] for record in spooled(spool_dir)]
    assert failures == []
    assert len(event_ids) == 400
    assert len(set(event_ids)) == 400
    assert list(spool_dir.glob("*.tmp")) == []


def test_restart_keeps_acknowledged_records(spool_dir: Path) -> None:
    first = start_server(spool_dir, TOKEN)
    first_status, _ = post(first, [make_record(number) for number in range(5)])
    first.stop()
    second = start_server(spool_dir, TOKEN)
    second_status, _ = post(second, [make_record(number) for number in range(5, 8)])
    second.stop()

    event_ids = sorted(record["event_id"] for record in spooled(spool_dir))
    assert first_status == 202
    assert second_status == 202
    assert event_ids == [f"event-{number}" for number in range(8)]


def test_unwritable_spool_is_503(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    server = start_server(tmp_path / "spool", TOKEN)
    (tmp_path / "spool").rmdir()
    (tmp_path / "spool").symlink_to(blocker)
    try:
        status, answer = post(server, [make_record(1)])
    finally:
        server.stop()

    assert status == 503
    assert "nothing of this request was kept" in answer["error"]


def test_unknown_path_is_404(server: IngestServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("POST", "/v2/other", body=b"[]", headers={"Authorization": "Bearer x"})
    response = connection.getresponse()

    assert response.status == 404


def start_cli(spool_dir: Path, token: str | None) -> subprocess.Popen[str]:
    environment = {key: value for key, value in os.environ.items() if key != "LLMETER_INGEST_TOKEN"}
    if token is not None:
        environment["LLMETER_INGEST_TOKEN"] = token
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmeter.cli",
            "ingest",
            "serve",
            "--port",
            "0",
            "--spool",
            str(spool_dir),
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_refuses_to_start_without_token(spool_dir: Path) -> None:
    process = start_cli(spool_dir, token=None)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 2
    assert "LLMETER_INGEST_TOKEN is not set" in stderr


def test_cli_serves_and_stops_on_sigterm(spool_dir: Path) -> None:
    process = start_cli(spool_dir, token=TOKEN)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(
            "POST",
            "/v1/ingest",
            body=json.dumps([make_record(1)]),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        status = connection.getresponse().status
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()

    assert line.startswith("Listening on http://127.0.0.1:")
    assert status == 202
    assert process.returncode == 0
    assert "Ingest server stopped" in stderr
    assert [record["event_id"] for record in spooled(spool_dir)] == ["event-1"]
