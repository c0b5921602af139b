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
def harness(tmp_path_factory, local_airflow_home):
    """The harness as DAG authors run it. A `run` goes to one `dag_harness runs` process for the session (the
    same runs, without importing Airflow and building its execution API again for each); `cli=True` runs the
    command itself, as `make dag-test` does."""
    home = local_airflow_home(tmp_path_factory.mktemp("airflow-local"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env["AIRFLOW_HOME"] = str(home)
    runs: list[subprocess.Popen[str]] = []

    def batched(args: tuple[str, ...]) -> tuple[int, dict[str, Any], str]:
        if not runs:
            runs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "devtools.dag_harness", "runs"],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,  # each run's own output is in its log file
                    text=True,
                )
            )
        process = runs[0]
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(list(args[1:])) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        assert line, f"dag_harness runs ended (exit {process.poll()})"
        answer = json.loads(line)
        result = answer["result"]
        log = Path(result["log"]).read_text(errors="replace")[-4000:] if result.get("log") else ""
        return answer["code"], result, answer.get("error", "") + log

    def call(*args: str, cli: bool = False) -> tuple[int, dict[str, Any], str]:
        if args[0] == "run" and not cli:
            return batched(args)
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

    yield call
    for process in runs:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=60)
