"""Benchmark the nightly job on a demo company of a given size, against DuckDB's own scan.

Run by hand, not in CI:

    python bench/run_benchmark.py --calls 1000000 --repeat 3 --workdir /tmp/llmeter-bench-1m

It generates the demo company (`llmeter.demo`) with one day more than `--days` and holds back
the last day's call-log file. Then it times these commands in one run on this machine, each in
a child process (`python -m llmeter.cli ...`) against the fake Admin APIs on 127.0.0.1:

1. `llmeter extract call_logs` into a new warehouse: the call-log load;
2. `llmeter run` into a new warehouse: extract, dbt build with tests, publish, checks, with
   `LLMETER_AS_OF` and the fake server's `now` at the held-back day;
3. `llmeter run` on that warehouse after the held-back file is added and `LLMETER_AS_OF` and
   `now` advance by one day: the incremental nightly run;
4. `llmeter check` on the same warehouse.

The yardstick of the same run is DuckDB reading the same call-log files with `read_ndjson`
and declared columns, into a table, and scanning and aggregating them by customer and UTC day.
Each figure is the median wall time over `--repeat` runs; peak memory is the largest sum of
the resident set sizes of the command's process tree, sampled every 0.1 s. The script prints
the machine, the versions, the load averages and the slowest dbt nodes of each run, and writes
everything to `results.json` in the work folder.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dbt.version
import dlt
import duckdb
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_call_logs import YARDSTICK_COLUMNS, machine_description
from scale_company import scale_company

from llmeter.demo.command import source_environment
from llmeter.demo.company import DemoOptions
from llmeter.demo.fake_apis import FakeProviderServer
from llmeter.settings import DEFAULT_MEMORY_LIMIT

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.1
SLOWEST_NODES = 12
COMMAND_TIMEOUT_SECONDS = 4 * 3600
# The line `llmeter run` logs at the end of each of its steps.
STEP_LINE = re.compile(r"Step (\w+) succeeded in ([0-9.]+) s")


@dataclass
class Measurement:
    """One timed command: wall seconds, peak resident memory of its process tree, exit code."""

    seconds: float
    peak_rss_bytes: int
    returncode: int
    peak_breakdown: dict[str, int] = field(default_factory=dict)
    # The wall time of each step of `llmeter run` (extract, build, publish, check), from its log.
    step_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class StepFigures:
    """The measurements of one benchmark step over all repeats."""

    name: str
    rows: int = 0
    runs: list[Measurement] = field(default_factory=list)
    slowest_nodes: list[tuple[str, float]] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def peak_rss_bytes(self) -> int:
        return max(run.peak_rss_bytes for run in self.runs)

    def median_step_seconds(self, step: str) -> float:
        """Return the median wall time of one step of `llmeter run` over the repeats, or 0."""
        times = [run.step_seconds[step] for run in self.runs if step in run.step_seconds]
        return statistics.median(times) if times else 0.0


class TreeMemorySampler:
    """Sample the summed RSS of a process and its descendants in a thread until stopped."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak_bytes = 0
        # The resident set size of each process at the moment of the peak, by command line.
        self.peak_breakdown: dict[str, int] = {}
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            sizes: dict[str, int] = {}
            try:
                processes = [self._root, *self._root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    name = " ".join(process.cmdline()[1:4])
                    sizes[name] = sizes.get(name, 0) + process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            total = sum(sizes.values())
            if total > self.peak_bytes:
                self.peak_bytes = total
                self.peak_breakdown = sizes
            self._stop.wait(SAMPLE_SECONDS)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_bytes


def run_measured(arguments: list[str], environment: dict[str, str], log_file: Path) -> Measurement:
    """Run a command in a child process, its output to `log_file`; measure time and memory."""
    started = time.perf_counter()
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            arguments, cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        sampler = TreeMemorySampler(process.pid)
        returncode = process.wait(timeout=COMMAND_TIMEOUT_SECONDS)
        peak = sampler.stop()
    seconds = time.perf_counter() - started
    step_seconds = {
        match.group(1): float(match.group(2))
        for match in STEP_LINE.finditer(log_file.read_text(encoding="utf-8", errors="replace"))
    }
    measurement = Measurement(seconds, peak, returncode, sampler.peak_breakdown, step_seconds)
    if returncode != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise SystemExit(f"{' '.join(arguments)} exited with {returncode}:\n{tail}")
    return measurement


def llmeter(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "llmeter.cli", *arguments]


@dataclass(frozen=True)
class Company:
    """The generated demo company and the call-log file held back for the nightly run."""

    files: Path
    options: DemoOptions
    history_files: list[Path]
    held_back_file: Path
    history_invoices: Path

    @property
    def history_as_of(self) -> dt.date:
        """The simulated today of the full run: the held-back day."""
        return self.options.as_of - dt.timedelta(days=1)


def generate_company(arguments: argparse.Namespace, work: Path) -> Company:
    """Generate the company with one extra day, hold back that day's call-log file.

    With `--repeat-calls K` the simulator generates a company of `--calls / K` calls in
    `work/base`, and `scale_company` repeats each call K times into `work/company`. A company
    whose manifest matches the options is reused.
    """
    factor = arguments.repeat_calls
    options = DemoOptions(
        customers=arguments.customers,
        days=arguments.days + 1,
        calls_per_day=round(arguments.calls / factor / arguments.days),
        as_of=arguments.as_of,
        seed=arguments.seed,
    )
    options.validate()
    files = work / "company"
    held_back_folder = work / "held_back"
    if factor == 1:
        simulate(options, files, work, held_back_folder)
    else:
        base = work / "base"
        simulate(options, base, work, held_back_folder)
        if read_manifest(files).get("scaled", {}).get("factor") != factor:
            shutil.rmtree(held_back_folder, ignore_errors=True)
            started = time.perf_counter()
            lines = scale_company(base, files, factor)
            print(
                f"scaling: {lines:,} call-log lines written in"
                f" {time.perf_counter() - started:.1f} s ({factor} copies of each call)"
            )

    last_day = options.as_of - dt.timedelta(days=1)
    held_back = held_back_folder / f"{last_day.isoformat()}.ndjson"
    in_spool = files / "call_logs" / held_back.name
    if in_spool.is_file():
        held_back_folder.mkdir(parents=True, exist_ok=True)
        in_spool.replace(held_back)
    history = sorted((files / "call_logs").glob("*.ndjson"))
    history_invoices = held_back_folder / "invoices"
    write_history_invoices(files / "invoices" / "invoices.csv", history_invoices, last_day)
    return Company(files, options, history, held_back, history_invoices)


def write_history_invoices(source: Path, target: Path, new_day: dt.date) -> None:
    """Copy the invoices whose period ended before `new_day`: those issued before it."""
    target.mkdir(parents=True, exist_ok=True)
    with source.open(newline="", encoding="utf-8") as reader:
        rows = list(csv.DictReader(reader))
        fields = list(rows[0]) if rows else []
    with (target / source.name).open("w", newline="", encoding="utf-8") as writer:
        output = csv.DictWriter(writer, fieldnames=fields)
        output.writeheader()
        output.writerows(
            row for row in rows if dt.date.fromisoformat(row["period_end_date"]) < new_day
        )


def read_manifest(files: Path) -> dict[str, Any]:
    manifest = files / "manifest.json"
    if not manifest.is_file():
        return {}
    loaded: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
    return loaded


def simulate(options: DemoOptions, files: Path, work: Path, held_back_folder: Path) -> None:
    """Run `llmeter demo --generate-only` into `files` unless its manifest matches `options`."""
    expected = {
        "customers": options.customers,
        "days": options.days,
        "calls_per_day": options.calls_per_day,
        "as_of": options.as_of.isoformat(),
        "seed": options.seed,
    }
    saved = read_manifest(files).get("options", {})
    if all(saved.get(name) == value for name, value in expected.items()):
        print(f"generation: reusing {files}")
        return
    shutil.rmtree(held_back_folder, ignore_errors=True)
    command = llmeter(
        "demo",
        "--generate-only",
        *(f"--{name.replace('_', '-')}={value}" for name, value in expected.items()),
        f"--output={files}",
    )
    measurement = run_measured(command, dict(os.environ), work / "generate.log")
    print(
        f"generation: {measurement.seconds:.1f} s,"
        f" peak memory {measurement.peak_rss_bytes / 2**30:.2f} GiB"
    )


def count_lines(paths: list[Path]) -> int:
    count = 0
    for path in paths:
        with path.open("rb") as handle:
            count += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))
    return count


def yardstick_read(company: Company, work: Path, memory_limit: str) -> tuple[float, int]:
    """Time DuckDB reading the history's call logs with declared columns into a table."""
    database = work / "yardstick.duckdb"
    database.unlink(missing_ok=True)
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in YARDSTICK_COLUMNS.items()) + "}"
    pattern = str(company.files / "call_logs" / "*.ndjson")
    started = time.perf_counter()
    with duckdb.connect(str(database)) as connection:
        connection.execute(f"set TimeZone = 'UTC'; set memory_limit = '{memory_limit}'")
        connection.execute(
            f"create table calls as select * from read_ndjson('{pattern}', columns = {columns})"
        )
        row = connection.execute("select count(*) from calls").fetchone()
    seconds = time.perf_counter() - started
    database.unlink(missing_ok=True)
    return seconds, int(row[0]) if row else 0


def yardstick_aggregate(company: Company, memory_limit: str) -> tuple[float, int]:
    """Time DuckDB scanning the history's call logs and summing tokens by customer and day."""
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in YARDSTICK_COLUMNS.items()) + "}"
    pattern = str(company.files / "call_logs" / "*.ndjson")
    started = time.perf_counter()
    with duckdb.connect() as connection:
        connection.execute(f"set TimeZone = 'UTC'; set memory_limit = '{memory_limit}'")
        row = connection.execute(
            "select count(*) from ("
            "select customer_id, cast(occurred_at as date) as usage_date, count(*) as calls,"
            " sum(input_uncached_tokens) as input_uncached_tokens,"
            " sum(cache_read_tokens) as cache_read_tokens,"
            " sum(output_tokens) as output_tokens"
            f" from read_ndjson('{pattern}', columns = {columns}) group by all)"
        ).fetchone()
    return time.perf_counter() - started, int(row[0]) if row else 0


class Scenario:
    """One warehouse folder with its own spool, dbt target and logs."""

    def __init__(self, root: Path, memory_limit: str) -> None:
        shutil.rmtree(root, ignore_errors=True)
        self.root = root
        self.spool = root / "spool"
        self.spool.mkdir(parents=True)
        self.warehouse = root / "warehouse" / "llmeter.duckdb"
        self.memory_limit = memory_limit

    def add_files(self, paths: list[Path]) -> None:
        for path in paths:
            os.link(path, self.spool / path.name)

    def environment(
        self, company: Company, server: FakeProviderServer, as_of: dt.date, target: str
    ) -> dict[str, str]:
        options = DemoOptions(
            customers=company.options.customers,
            days=company.options.days - 1,
            calls_per_day=company.options.calls_per_day,
            as_of=as_of,
            seed=company.options.seed,
        )
        return {
            **os.environ,
            **source_environment(company.files, server, options),
            "SOURCES__CALL_LOGS__BUCKET_URL": str(self.spool),
            "SOURCES__INVOICES__BUCKET_URL": str(
                company.history_invoices
                if as_of == company.history_as_of
                else company.files / "invoices"
            ),
            "LLMETER_WAREHOUSE": str(self.warehouse),
            "LLMETER_PUBLISHED": str(self.root / "published" / "llmeter.duckdb"),
            "LLMETER_MEMORY_LIMIT": self.memory_limit,
            "DBT_TARGET_PATH": str(self.root / f"target-{target}"),
            "DBT_LOG_PATH": str(self.root / "logs"),
        }

    def count(self, table: str) -> int:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            row = connection.execute(f"select count(*) from {table}").fetchone()
        return int(row[0]) if row else 0

    def slowest_nodes(self, target: str) -> list[tuple[str, float]]:
        """Return the dbt nodes of the last build that ran longest, slowest first."""
        path = self.root / f"target-{target}" / "run_results.json"
        if not path.is_file():
            return []
        results = json.loads(path.read_text(encoding="utf-8"))["results"]
        timings = [(result["unique_id"], float(result["execution_time"])) for result in results]
        return sorted(timings, key=lambda item: -item[1])[:SLOWEST_NODES]

    def dbt_total_seconds(self, target: str) -> float:
        path = self.root / f"target-{target}" / "run_results.json"
        if not path.is_file():
            return 0.0
        return float(json.loads(path.read_text(encoding="utf-8"))["elapsed_time"])


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def run_repeat(
    repeat: int, company: Company, work: Path, memory_limit: str, steps: dict[str, StepFigures]
) -> None:
    """Run the four steps once, in order, each on its own or the previous step's warehouse."""
    with FakeProviderServer.from_demo_folder(
        company.files, now=midnight(company.history_as_of)
    ) as server:
        load = Scenario(work / "load", memory_limit)
        load.add_files(company.history_files)
        environment = load.environment(company, server, company.history_as_of, "load")
        steps["load"].runs.append(
            run_measured(llmeter("extract", "call_logs"), environment, work / f"load-{repeat}.log")
        )
        steps["load"].rows = load.count("raw_call_logs.llm_calls")
        shutil.rmtree(load.root, ignore_errors=True)

        state = Scenario(work / "state", memory_limit)
        state.add_files(company.history_files)
        environment = state.environment(company, server, company.history_as_of, "full")
        steps["full"].runs.append(
            run_measured(llmeter("run"), environment, work / f"full-{repeat}.log")
        )
        steps["full"].rows = state.count("raw_call_logs.llm_calls")
        steps["full"].slowest_nodes = state.slowest_nodes("full")
        full_dbt = state.dbt_total_seconds("full")

        state.add_files([company.held_back_file])
        server.now = midnight(company.options.as_of)
        # A nightly job runs in the same project folder as the night before, so dbt finds the
        # previous run's manifest there and parses only what changed.
        shutil.copytree(state.root / "target-full", state.root / "target-nightly")
        environment = state.environment(company, server, company.options.as_of, "nightly")
        before = steps["full"].rows
        steps["nightly"].runs.append(
            run_measured(llmeter("run"), environment, work / f"nightly-{repeat}.log")
        )
        steps["nightly"].rows = state.count("raw_call_logs.llm_calls") - before
        steps["nightly"].slowest_nodes = state.slowest_nodes("nightly")
        nightly_dbt = state.dbt_total_seconds("nightly")

        steps["check"].runs.append(
            run_measured(llmeter("check"), environment, work / f"check-{repeat}.log")
        )
        steps["check"].rows = state.count("marts.fct_llm_calls")
    print(
        f"run {repeat}: "
        + ", ".join(f"{name} {figures.runs[-1].seconds:.1f} s" for name, figures in steps.items())
        + f" (dbt build {full_dbt:.1f} s full, {nightly_dbt:.1f} s nightly);"
        f" load averages {' '.join(f'{value:.2f}' for value in os.getloadavg())}"
    )


def print_results(
    steps: dict[str, StepFigures], yardstick: dict[str, float], yardstick_rows: int
) -> None:
    labels = {
        "load": "1. extract call_logs",
        "full": "2. full run",
        "nightly": "3. nightly run, one new day",
        "check": "4. check",
    }
    print()
    print(f"{'step':30} {'median s':>9} {'rows':>12} {'rows/s':>11} {'peak GiB':>9}")
    for name, figures in steps.items():
        seconds = figures.median_seconds
        rate = figures.rows / seconds if seconds else 0.0
        print(
            f"{labels[name]:30} {seconds:9.1f} {figures.rows:12,} {rate:11,.0f}"
            f" {figures.peak_rss_bytes / 2**30:9.2f}"
        )
    for name in ("read", "aggregate"):
        seconds = yardstick[name]
        label = f"yardstick: DuckDB {name}"
        print(f"{label:30} {seconds:9.1f} {yardstick_rows:12,} {yardstick_rows / seconds:11,.0f}")

    print()
    load_ratio = (steps["load"].rows / steps["load"].median_seconds) / (
        yardstick_rows / yardstick["read"]
    )
    nightly_ratio = steps["nightly"].median_seconds / steps["full"].median_seconds
    full_ratio = steps["full"].median_seconds / yardstick["aggregate"]
    build_ratio = steps["full"].median_step_seconds("build") / yardstick["aggregate"]
    peak = max(figures.peak_rss_bytes for figures in steps.values()) / 2**30
    print(f"load rate / yardstick read rate: {load_ratio:.2f} (target at least 0.50)")
    print(f"nightly run / full run time: {nightly_ratio:.3f} (target at most 0.10)")
    print(f"full build (dbt) / yardstick aggregate time: {build_ratio:.1f} (target at most 10)")
    print(f"full run / yardstick aggregate time: {full_ratio:.1f}")
    for name in ("full", "nightly"):
        parts = ", ".join(
            f"{step} {steps[name].median_step_seconds(step):.1f} s"
            for step in ("extract", "build", "publish", "check")
        )
        print(f"  {labels[name][3:]}, median per step: {parts}")
    print(f"peak memory of any step: {peak:.2f} GiB (target under 4 GB)")
    for name, figures in steps.items():
        largest = max(figures.runs, key=lambda run: run.peak_rss_bytes)
        parts = ", ".join(
            f"{command} {size / 2**30:.2f} GiB"
            for command, size in sorted(largest.peak_breakdown.items(), key=lambda item: -item[1])
        )
        print(f"  at the peak of {labels[name][3:]}: {parts}")

    for name in ("full", "nightly"):
        print()
        print(f"slowest dbt nodes of the {labels[name][3:]} (last repeat):")
        for unique_id, seconds in steps[name].slowest_nodes:
            print(f"  {seconds:8.1f} s  {unique_id}")


def versions() -> str:
    return (
        f"python {platform.python_version()}, duckdb {duckdb.__version__},"
        f" dbt-core {dbt.version.__version__}, dlt {dlt.__version__}"
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--calls",
        type=int,
        default=1_000_000,
        help="tagged and untagged calls of the history, before the new day (default 1,000,000)",
    )
    parser.add_argument("--customers", type=int, default=2000, help="customers (default 2000)")
    parser.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=dt.date(2026, 11, 1),
        help="UTC date of the nightly run; the new day is the day before (default 2026-11-01)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--repeat-calls",
        type=int,
        default=1,
        help="simulate --calls / K calls and repeat each K times (bench/scale_company.py)"
        " instead of simulating them all (default 1: simulate all)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each step (median)")
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        help=f"LLMETER_MEMORY_LIMIT of every step (default {DEFAULT_MEMORY_LIMIT})",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        required=True,
        help="folder for the company, the warehouses and the logs; a company there whose"
        " manifest matches the options is reused",
    )
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    logging.basicConfig(level=logging.WARNING)
    work: Path = arguments.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)

    print(f"machine: {machine_description()}")
    print(f"versions: {versions()}")
    company = generate_company(arguments, work)
    history_lines = count_lines(company.history_files)
    new_lines = count_lines([company.held_back_file])
    print(
        f"company: {company.options.customers} customers, {len(company.history_files)} days of"
        f" call logs with {history_lines:,} records, new day {company.held_back_file.stem}"
        f" with {new_lines:,} records"
    )

    steps = {name: StepFigures(name) for name in ("load", "full", "nightly", "check")}
    reads: list[float] = []
    aggregates: list[float] = []
    yardstick_rows = 0
    for repeat in range(1, arguments.repeat + 1):
        read_seconds, yardstick_rows = yardstick_read(company, work, arguments.memory_limit)
        aggregate_seconds, groups = yardstick_aggregate(company, arguments.memory_limit)
        reads.append(read_seconds)
        aggregates.append(aggregate_seconds)
        print(
            f"yardstick {repeat}: read {read_seconds:.1f} s, aggregate {aggregate_seconds:.1f} s"
            f" ({groups:,} customer days)"
        )
        run_repeat(repeat, company, work, arguments.memory_limit, steps)
        # Results so far after every repeat, so that a long run that is stopped leaves figures.
        yardstick = {"read": statistics.median(reads), "aggregate": statistics.median(aggregates)}
        print_results(steps, yardstick, yardstick_rows)
        results: dict[str, Any] = {
            "machine": machine_description(),
            "versions": versions(),
            "load_averages_at_end": os.getloadavg(),
            "arguments": {k: str(v) for k, v in vars(arguments).items()},
            "history_records": history_lines,
            "new_day_records": new_lines,
            "yardstick": {"read_seconds": reads, "aggregate_seconds": aggregates},
            "steps": {name: asdict(figures) for name, figures in steps.items()},
        }
        (work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(f"\nresults of {repeat} repeats written to {work / 'results.json'}\n", flush=True)


if __name__ == "__main__":
    main()
