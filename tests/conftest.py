"""Shared fixtures: one small demo company built per test session and copied for fault tests.

With pytest-xdist the workers share one build: the first worker to take the lock builds it,
the others wait and reuse it. Tests that change a warehouse work on a copy (`demo_copy`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Small enough to build in about a minute, large enough for two complete calendar months
# (August and September 2026, so that a customer can turn unprofitable in September), 28 days
# of anomaly baseline, the gpt-5.6-sol price change of 2026-08-21 with 20 days of history
# before it, and injected events whose daily impact clears the $5 anomaly floor.
DEMO_OPTIONS = {
    "customers": "15",
    "days": "61",
    "calls-per-day": "1000",
    "as-of": "2026-10-01",
    "seed": "11",
}


@dataclass(frozen=True)
class DemoBuild:
    """Paths of a demo company and the warehouse its nightly run built."""

    root: Path
    files: Path
    warehouse: Path
    published: Path
    as_of: str
    output: str

    def environment(self, **extra: str) -> dict[str, str]:
        """The environment that points llmeter, dbt and dlt at this build's files."""
        return {
            **os.environ,
            "LLMETER_WAREHOUSE": str(self.warehouse),
            "LLMETER_PUBLISHED": str(self.published),
            "LLMETER_AS_OF": self.as_of,
            "DBT_TARGET_PATH": str(self.root / "target"),
            "DBT_LOG_PATH": str(self.root / "logs"),
            **extra,
        }


def build_demo(root: Path, **extra_environment: str) -> DemoBuild:
    """Run `llmeter demo` with DEMO_OPTIONS into `root` and return its paths."""
    build = DemoBuild(
        root=root,
        files=root / "files",
        warehouse=root / "warehouse" / "llmeter.duckdb",
        published=root / "warehouse" / "published" / "llmeter.duckdb",
        as_of=DEMO_OPTIONS["as-of"],
        output="",
    )
    arguments = [f"--{name}={value}" for name, value in DEMO_OPTIONS.items()]
    result = subprocess.run(
        [sys.executable, "-m", "llmeter.cli", "demo", *arguments, f"--output={build.files}"],
        cwd=PROJECT_ROOT,
        env=build.environment(**extra_environment),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    (root / "demo-output.txt").write_text(output, encoding="utf-8")
    if result.returncode != 0:
        pytest.fail(f"llmeter demo exited with {result.returncode}:\n{output[-6000:]}")
    return DemoBuild(**{**build.__dict__, "output": output})


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """The demo company and its warehouse, built once for all workers of the session."""
    # Each xdist worker has its own base folder inside the session's; without xdist the base
    # folder is the session's own.
    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    marker = shared / "demo_build.json"
    with open(shared / "demo_build.lock", "a+", encoding="utf-8") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if marker.is_file():
            saved = json.loads(marker.read_text(encoding="utf-8"))
            return DemoBuild(
                root=Path(saved["root"]),
                files=Path(saved["files"]),
                warehouse=Path(saved["warehouse"]),
                published=Path(saved["published"]),
                as_of=saved["as_of"],
                output=saved["output"],
            )
        root = shared / "demo_build"
        root.mkdir(exist_ok=True)
        build = build_demo(root)
        marker.write_text(
            json.dumps({name: str(value) for name, value in build.__dict__.items()}),
            encoding="utf-8",
        )
        return build


@pytest.fixture
def demo_copy(demo_build: DemoBuild, tmp_path: Path) -> DemoBuild:
    """A private copy of the demo build (files, warehouse and dlt state) for a test to change."""
    root = tmp_path / "demo"
    shutil.copytree(demo_build.root, root, ignore=shutil.ignore_patterns("target", "logs"))
    return DemoBuild(
        root=root,
        files=root / "files",
        warehouse=root / "warehouse" / "llmeter.duckdb",
        published=root / "warehouse" / "published" / "llmeter.duckdb",
        as_of=demo_build.as_of,
        output=demo_build.output,
    )
