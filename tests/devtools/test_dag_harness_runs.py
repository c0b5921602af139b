"""`dag_harness runs`, the process the DAG tests send their runs to: a line that is not a run's arguments is
that line's answer (exit 2, with argparse's message), and the next line is still read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runs_answers_each_bad_line_and_goes_on(tmp_path, local_airflow_home):
    lines = '["orders_transform", "--bogus"]\n{"not": "a list"}\nnot json\n'
    result = subprocess.run(
        [sys.executable, "-m", "devtools.dag_harness", "runs"],
        input=lines,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(local_airflow_home(tmp_path))},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["code"] for a in answers] == [2, 2, 2], answers
    assert "unrecognized arguments: --bogus" in answers[0]["error"]
    assert "JSON list" in answers[1]["error"] and answers[2]["error"]
