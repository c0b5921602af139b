"""The rehearsal, driven end to end (`make rehearse`): real Airflow started and stopped by the real waker on
the stand-in AWS with IAM enforced. Runs as its own CI step (`pytest -m rehearsal`), after `make check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.rehearsal


def rehearse(tmp_path: Path, *extra: str, timeout: int) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "rehearsal.run", "--workdir", str(tmp_path / "rehearsal"), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(result.stdout[-20000:])
    return result.returncode, result.stdout + result.stderr


def test_every_scenario_passes_with_no_iam_refusal(tmp_path):
    code, out = rehearse(tmp_path, timeout=2700)
    assert code == 0, out[-6000:]
    for expected in (
        "every task runs in the image localhost/airflow-govcloud:",
        "ok: the shipped DAGs are in the REST API",
        "ok: task code on a worker holds no master credentials, Fernet key or admin password",
        "ok: woke",  # before the due time
        "ok: the log of list_export is in S3",
        "ok: next wake",  # the one-time wake for tomorrow's run
        "ok: the stack wakes for the message",
        "ok: orders_events run",
        "kept: scale-in protected",
        "ok: the busy worker was kept through the scale-in",
        "ok: the task finished",
        "ok: the interrupted worker shut down warm",
        "was unable to place a task: Capacity is unavailable",
        "ok: the task was failed by task_queued_timeout, never run",
        "stale broker message(s) parked on",
        "ok: still asleep",
        "ok: a new message still wakes the stack",
        "one-off dag-processor task",  # RunTask's task, run in the image
        "ok: airflow-stack smoke passed",
        "all scenarios passed; no IAM refusal",
    ):
        assert expected in out, expected


def test_a_permission_removed_from_a_declared_policy_fails_the_rehearsal_naming_the_call(tmp_path):
    code, out = rehearse(tmp_path, "--remove-permission", "scheduler:cloudwatch:PutMetricData", timeout=900)
    assert code == 1
    failure = next(line for line in out.splitlines() if "FAILED" in line)
    assert "IAM refused" in failure and "monitoring:PutMetricData" in failure and "scheduler-task" in failure
