"""Benchmark the call log loader against DuckDB's own NDJSON reader on the same file.

Run by hand, not in CI:

    python bench/load_call_logs.py --records 1000000 --repeat 3

It writes N realistic call records (deterministic for a seed) to one NDJSON file, then times,
alternating within each repeat so that both see the same machine load:

- the yardstick: `create table ... as select * from read_ndjson(file, columns = {...})` into a
  new DuckDB file, with the loader's declared column types;
- the loader end to end (`pipelines.call_logs.loader.load_spool`: parse, validate,
  deduplicate, dlt load) into a new warehouse.

It prints the median wall time and records per second of each, their ratio, and the machine.
It also prints the median CPU time of each (all threads of this process), which another
process's load on the same cores inflates less than wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from llmeter.settings import Settings
from pipelines.call_logs.loader import load_spool
from pipelines.call_logs.spool import SpoolFolder

# (provider, model, service tiers the responses report)
MODELS = (
    ("openai", "gpt-4o-2024-08-06", ("default", "default", "default", "flex", "priority")),
    ("openai", "gpt-4.1-mini-2025-04-14", ("default",)),
    ("openai", "o4-mini-2025-04-16", ("default", "flex")),
    ("anthropic", "claude-sonnet-4-5-20250929", ("standard", "standard", "priority")),
    ("anthropic", "claude-haiku-4-5-20251001", ("standard",)),
    ("google", "gemini-2.5-flash", (None,)),
)
FEATURES = ("search", "chat", "summarize", "classify", "extract")
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)

YARDSTICK_COLUMNS = {
    "event_id": "VARCHAR",
    "occurred_at": "TIMESTAMPTZ",
    "provider": "VARCHAR",
    "model": "VARCHAR",
    "customer_id": "VARCHAR",
    "input_uncached_tokens": "BIGINT",
    "cache_read_tokens": "BIGINT",
    "cache_write_5m_tokens": "BIGINT",
    "cache_write_1h_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "reasoning_tokens": "BIGINT",
    "web_search_requests": "BIGINT",
    "request_id": "VARCHAR",
    "service_tier": "VARCHAR",
    "is_batch": "BOOLEAN",
    "project_id": "VARCHAR",
    "workspace_id": "VARCHAR",
    "api_key_id": "VARCHAR",
    "tags": "VARCHAR",
    "latency_ms": "BIGINT",
    "status": "VARCHAR",
    "schema_version": "BIGINT",
}


def generate_record(rng: random.Random) -> dict[str, object]:
    """Generate one call record as the SDK writes it, absent optional fields left out."""
    provider, model, tiers = rng.choice(MODELS)
    occurred_at = START + dt.timedelta(milliseconds=rng.randrange(30 * 86_400_000))
    cached = rng.random() < 0.4
    record: dict[str, object] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "occurred_at": occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "provider": provider,
        "model": model,
        "customer_id": f"cus_{rng.randrange(5000):05d}",
        "input_uncached_tokens": rng.randrange(50, 20_000),
        "cache_read_tokens": rng.randrange(1_000, 50_000) if cached else 0,
        "cache_write_5m_tokens": rng.randrange(0, 5_000) if cached else 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": rng.randrange(1, 4_000),
        "reasoning_tokens": rng.randrange(0, 1_000) if model.startswith("o4") else 0,
        "web_search_requests": 1 if rng.random() < 0.02 else 0,
        "request_id": f"req_{rng.getrandbits(96):024x}",
        "is_batch": rng.random() < 0.05,
        "api_key_id": f"key_{rng.randrange(20):04d}",
        "tags": {"feature": rng.choice(FEATURES), "environment": "production"},
        "latency_ms": rng.randrange(150, 30_000),
        "status": "ok" if rng.random() < 0.98 else "error",
        "schema_version": 1,
    }
    tier = rng.choice(tiers)
    if tier is not None:
        record["service_tier"] = tier
    if provider == "openai":
        record["project_id"] = f"proj_{rng.randrange(8)}"
    if provider == "anthropic":
        record["workspace_id"] = f"wrkspc_{rng.randrange(4)}"
    return record


def write_records(path: Path, count: int, seed: int) -> None:
    """Write `count` records to `path`, one JSON object per line."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(count):
            handle.write(json.dumps(generate_record(rng), separators=(",", ":")) + "\n")


def run_yardstick(spool_file: Path, work: Path) -> int:
    """Load the file with read_ndjson and declared columns into a table of a new database."""
    database = work / "yardstick.duckdb"
    database.unlink(missing_ok=True)
    connection = duckdb.connect(str(database))
    try:
        connection.execute("set TimeZone = 'UTC'")
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in YARDSTICK_COLUMNS.items()) + "}"
        connection.execute(
            f"create table calls as select * from read_ndjson('{spool_file}', columns = {columns})"
        )
        count: int = connection.execute("select count(*) from calls").fetchall()[0][0]
    finally:
        connection.close()
    return count


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send standard output to /dev/null, where dlt's progress lines go in this script."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def run_loader(spool_file: Path, work: Path, memory_limit: str) -> int:
    """Load the file with the call log loader into a new warehouse, end to end."""
    target = work / "loader"
    shutil.rmtree(target, ignore_errors=True)
    spool = target / "spool"
    spool.mkdir(parents=True)
    os.link(spool_file, spool / spool_file.name)
    settings = Settings(
        project_root=target,
        warehouse_path=target / "warehouse" / "llmeter.duckdb",
        published_path=target / "warehouse" / "published.duckdb",
        memory_limit=memory_limit,
        as_of_date=dt.date.today(),
    )
    with quiet_stdout():
        results = load_spool(settings, SpoolFolder(str(spool)))
    return sum(result.rows_loaded or 0 for result in results)


def timed(function: Callable[[], int]) -> tuple[float, float, int]:
    """Run `function`; return its wall seconds, CPU seconds and result."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    count = function()
    return time.perf_counter() - started, time.process_time() - cpu_started, count


def machine_description() -> str:
    """Describe the CPU model, cores, memory and load of this machine, read from /proc."""
    cpu = "unknown CPU"
    memory = "unknown memory"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for info_line in cpuinfo:
            if info_line.startswith("model name"):
                cpu = info_line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for info_line in meminfo:
            if info_line.startswith("MemTotal"):
                memory = f"{int(info_line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    with open("/proc/loadavg", encoding="utf-8") as loadavg:
        load = loadavg.read().split()[0]
    return f"{cpu}, {os.cpu_count()} cores, {memory}, load average {load} at start"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records to generate")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (median)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the records")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit of the loader")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="folder for the files (default: a temp folder)"
    )
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    logging.basicConfig(level=logging.WARNING)
    work = arguments.workdir or Path(tempfile.mkdtemp(prefix="llmeter-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    spool_file = work / "calls.ndjson"

    print(f"machine: {machine_description()}")
    print(f"versions: duckdb {duckdb.__version__}, dlt {dlt.__version__}, pyarrow {pa.__version__}")
    started = time.perf_counter()
    write_records(spool_file, arguments.records, arguments.seed)
    size_mib = spool_file.stat().st_size / 1024 / 1024
    print(
        f"file: {arguments.records:,} records, {size_mib:,.0f} MiB,"
        f" written in {time.perf_counter() - started:.1f} s"
    )

    yardstick_times: list[float] = []
    loader_times: list[float] = []
    yardstick_cpu: list[float] = []
    loader_cpu: list[float] = []
    for repeat in range(1, arguments.repeat + 1):
        yardstick_seconds, yardstick_cpu_seconds, yardstick_count = timed(
            lambda: run_yardstick(spool_file, work)
        )
        loader_seconds, loader_cpu_seconds, loader_count = timed(
            lambda: run_loader(spool_file, work, arguments.memory_limit)
        )
        if yardstick_count != arguments.records or loader_count != arguments.records:
            raise SystemExit(
                f"row count mismatch: yardstick {yardstick_count}, loader {loader_count},"
                f" expected {arguments.records}"
            )
        yardstick_times.append(yardstick_seconds)
        loader_times.append(loader_seconds)
        yardstick_cpu.append(yardstick_cpu_seconds)
        loader_cpu.append(loader_cpu_seconds)
        print(
            f"run {repeat}: yardstick {yardstick_seconds:.2f} s"
            f" ({yardstick_cpu_seconds:.2f} s CPU), loader {loader_seconds:.2f} s"
            f" ({loader_cpu_seconds:.2f} s CPU)"
        )

    yardstick = statistics.median(yardstick_times)
    loader = statistics.median(loader_times)
    ratio = yardstick / loader
    for name, seconds in (("yardstick (read_ndjson)", yardstick), ("loader (end to end)", loader)):
        rate = arguments.records / seconds
        print(f"{name:24} median {seconds:.2f} s, {rate:,.0f} records/s")
    print(f"loader rate / yardstick rate: {ratio:.2f} (target at least 0.50)")
    cpu_ratio = statistics.median(yardstick_cpu) / statistics.median(loader_cpu)
    print(
        f"CPU time: yardstick median {statistics.median(yardstick_cpu):.2f} s, loader median"
        f" {statistics.median(loader_cpu):.2f} s, ratio {cpu_ratio:.2f}"
    )
    if arguments.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
