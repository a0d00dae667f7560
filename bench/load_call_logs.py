"""Benchmark the call log loader against DuckDB's own NDJSON reader on the same files.

Run by hand, not in CI:

    python bench/load_call_logs.py --records 1000000 --repeat 3 --group-mib 512

It writes N realistic call records (deterministic for a seed) to NDJSON spool files of
`--file-mib` each (8 MiB by default, the size at which the SDK closes a spool file; 0 writes
one file), then times, alternating within each repeat so that both see the same machine load:

- the yardstick: `create table ... as select * from read_ndjson(files, columns = {...})` into
  a new DuckDB file, with the loader's declared column types;
- the loader end to end (`pipelines.call_logs.loader.load_spool`: parse, validate,
  deduplicate, dlt load) into a new warehouse, in groups of `--group-mib` spool bytes.

Each timed run happens in a new child process, which reports its wall time, its CPU time (all
threads) and its peak resident memory (`ru_maxrss`, the Python interpreter and its imports
included). The script prints the median of each, the ratio of the loader's rate to the
yardstick's, and the machine with its load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import logging
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from llmeter.settings import DEFAULT_MEMORY_LIMIT, Settings
from pipelines.call_logs.loader import LOAD_GROUP_BYTES, load_spool
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
# The SDK closes a spool file at 8 MiB (DEFAULT_MAX_FILE_BYTES in sdk/llmeter_sdk/_spool.py).
SDK_FILE_MIB = 8
MIB = 1024 * 1024

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


def write_records(folder: Path, count: int, seed: int, file_mib: int) -> list[Path]:
    """Write `count` records to spool files of about `file_mib` MiB each (0: one file).

    Each file is closed before the next is written, so their modification times keep their
    order, as the SDK's files do.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    handle = None
    written = 0
    try:
        for _ in range(count):
            if handle is None or (file_mib and written >= file_mib * MIB):
                if handle is not None:
                    handle.close()
                paths.append(folder / f"calls-{len(paths) + 1:05d}.ndjson")
                handle = paths[-1].open("w", encoding="utf-8")
                written = 0
            written += handle.write(json.dumps(generate_record(rng), separators=(",", ":")) + "\n")
    finally:
        if handle is not None:
            handle.close()
    return paths


def run_yardstick(spool: Path, work: Path) -> int:
    """Load the spool files with read_ndjson and declared columns into a table of a new database."""
    database = work / "yardstick.duckdb"
    database.unlink(missing_ok=True)
    connection = duckdb.connect(str(database))
    try:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute("set enable_progress_bar = false")
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in YARDSTICK_COLUMNS.items()) + "}"
        files = f"{spool}/*.ndjson"
        connection.execute(
            f"create table calls as select * from read_ndjson('{files}', columns = {columns})"
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


def run_loader(spool: Path, work: Path, memory_limit: str, group_bytes: int) -> int:
    """Load the spool files with the call log loader into a new warehouse, end to end."""
    target = work / "loader"
    shutil.rmtree(target, ignore_errors=True)
    linked = target / "spool"
    linked.mkdir(parents=True)
    for path in sorted(spool.glob("*.ndjson")):
        os.link(path, linked / path.name)
    settings = Settings(
        project_root=target,
        warehouse_path=target / "warehouse" / "llmeter.duckdb",
        published_path=target / "warehouse" / "published.duckdb",
        memory_limit=memory_limit,
        as_of_date=dt.date.today(),
    )
    with quiet_stdout():
        results = load_spool(settings, SpoolFolder(str(linked)), group_bytes)
    return sum(result.rows_loaded or 0 for result in results)


@dataclass(frozen=True)
class Measurement:
    """One timed run in a child process."""

    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    count: int


def measure_in_child(function: Callable[[], int], results: multiprocessing.Queue) -> None:
    """Run `function` in this child process and put its Measurement on `results`."""
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    cpu_started = time.process_time()
    count = function()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    results.put(Measurement(seconds, cpu_seconds, peak, count))


def measured(function: Callable[[], int]) -> Measurement:
    """Run `function` in a new child process and return its Measurement."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    process = context.Process(target=measure_in_child, args=(function, results))
    process.start()
    measurement: Measurement = results.get()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"the measured child process exited with {process.exitcode}")
    return measurement


def load_average() -> str:
    """Return the 1-, 5- and 15-minute load averages from /proc/loadavg."""
    with open("/proc/loadavg", encoding="utf-8") as loadavg:
        return " ".join(loadavg.read().split()[:3])


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
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        help=f"DuckDB memory limit of the loader (default {DEFAULT_MEMORY_LIMIT})",
    )
    parser.add_argument(
        "--file-mib",
        type=int,
        default=SDK_FILE_MIB,
        help=f"size of each spool file in MiB, 0 for one file (default {SDK_FILE_MIB})",
    )
    parser.add_argument(
        "--group-mib",
        type=int,
        default=LOAD_GROUP_BYTES // MIB,
        help=f"spool MiB the loader parses at once (default {LOAD_GROUP_BYTES // MIB})",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="folder for the files (default: a temp folder)"
    )
    return parser.parse_args()


def median_of(measurements: list[Measurement], name: str) -> float:
    return float(statistics.median(getattr(measurement, name) for measurement in measurements))


def main() -> None:
    arguments = parse_arguments()
    logging.basicConfig(level=logging.WARNING)
    work = arguments.workdir or Path(tempfile.mkdtemp(prefix="llmeter-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    spool = work / "spool"

    print(f"machine: {machine_description()}")
    print(f"versions: duckdb {duckdb.__version__}, dlt {dlt.__version__}, pyarrow {pa.__version__}")
    started = time.perf_counter()
    shutil.rmtree(spool, ignore_errors=True)
    paths = write_records(spool, arguments.records, arguments.seed, arguments.file_mib)
    size_mib = sum(path.stat().st_size for path in paths) / MIB
    print(
        f"spool: {arguments.records:,} records, {size_mib:,.0f} MiB in {len(paths)} files,"
        f" written in {time.perf_counter() - started:.1f} s; loader groups of"
        f" {arguments.group_mib} MiB, memory limit {arguments.memory_limit}"
    )

    yardsticks: list[Measurement] = []
    loaders: list[Measurement] = []
    for repeat in range(1, arguments.repeat + 1):
        load_before = load_average()
        yardstick = measured(functools.partial(run_yardstick, spool, work))
        loader = measured(
            functools.partial(
                run_loader, spool, work, arguments.memory_limit, arguments.group_mib * MIB
            )
        )
        if yardstick.count != arguments.records or loader.count != arguments.records:
            raise SystemExit(
                f"row count mismatch: yardstick {yardstick.count}, loader {loader.count},"
                f" expected {arguments.records}"
            )
        yardsticks.append(yardstick)
        loaders.append(loader)
        print(
            f"run {repeat}: yardstick {yardstick.seconds:.2f} s ({yardstick.cpu_seconds:.2f} s"
            f" CPU, peak {yardstick.peak_rss_bytes / MIB:,.0f} MiB), loader"
            f" {loader.seconds:.2f} s ({loader.cpu_seconds:.2f} s CPU, peak"
            f" {loader.peak_rss_bytes / MIB:,.0f} MiB); load average {load_before} before,"
            f" {load_average()} after"
        )

    yardstick_seconds = median_of(yardsticks, "seconds")
    loader_seconds = median_of(loaders, "seconds")
    for name, seconds, runs in (
        ("yardstick (read_ndjson)", yardstick_seconds, yardsticks),
        ("loader (end to end)", loader_seconds, loaders),
    ):
        rate = arguments.records / seconds
        print(
            f"{name:24} median {seconds:.2f} s, {rate:,.0f} records/s, CPU"
            f" {median_of(runs, 'cpu_seconds'):.2f} s, peak memory"
            f" {median_of(runs, 'peak_rss_bytes') / MIB:,.0f} MiB"
        )
    print(
        f"loader rate / yardstick rate: {yardstick_seconds / loader_seconds:.2f}"
        " (target at least 0.50)"
    )
    cpu_ratio = median_of(yardsticks, "cpu_seconds") / median_of(loaders, "cpu_seconds")
    print(f"CPU time ratio (yardstick / loader): {cpu_ratio:.2f}")
    if arguments.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
