"""The DAG harness (devtools/dag_harness.py) run as DAG authors run it, with its own Airflow home per session."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


# A file that declares a DAG (`with DAG(`, `DAG(`, `@dag`); helpers such as orders_common.py declare none.
DECLARES_A_DAG = re.compile(r"^\s*@dag\b|\bDAG\(", re.MULTILINE)
MARKS_A_RUN = re.compile(r"""dag_file\(\s*["']([^"']+)["']""")


def dag_files_without_a_run(dags: Path = ROOT / "dags", tests: Path = ROOT / "tests" / "dags") -> list[str]:
    """DAG files in `dags` that no test in `tests` marked `dag_file(<name>)` runs end to end. Read from the
    files themselves, so the answer is the same on every xdist worker and on the process that reports."""
    tested = {name for path in tests.glob("test_*.py") for name in MARKS_A_RUN.findall(path.read_text("utf-8"))}
    declaring = sorted(p.name for p in dags.glob("*.py") if DECLARES_A_DAG.search(p.read_text("utf-8")))
    return [name for name in declaring if name not in tested]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """`make dag-check` and `deploy-dags` name each DAG file that only parses here: it imports, but no test ever
    ran it."""
    untested = dag_files_without_a_run()
    if untested:
        terminalreporter.section("DAGs without an end-to-end test", yellow=True)
        for name in untested:
            terminalreporter.line(
                f"warning: dags/{name} has no end-to-end test: it imports, but no test runs it. Add one to "
                f'tests/dags/test_dag_runs.py marked @pytest.mark.dag_file("{name}") (see dags/README.md)'
            )


def pytest_collection_modifyitems(config, items):
    # `DAG_TESTS_FILES=a.py,b.py` (set by deploy-dags): keep the end-to-end runs of those DAG files only;
    # tests not marked `dag_file` (parsing, policy) always run.
    wanted = os.environ.get("DAG_TESTS_FILES")
    if wanted is None:
        return
    files = {name for name in wanted.split(",") if name}
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("dag_file")
        (keep if marker is None or marker.args[0] in files else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def harness(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-local")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env["AIRFLOW_HOME"] = str(home)

    def call(*args: str) -> tuple[int, dict[str, Any], str]:
        if args[0] == "run":
            args = (*args, "--json")
        result = subprocess.run(
            [sys.executable, "-m", "devtools.dag_harness", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = result.stdout.strip().splitlines()
        try:
            document = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            document = {}
        return result.returncode, document, result.stdout[-4000:] + result.stderr[-4000:]

    return call
