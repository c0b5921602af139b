"""The activity reporter against real Airflow 3 and PostgreSQL: what it publishes is what the scheduler sees."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

from contracts.metrics import REPORTER_METRICS
from tests.image.conftest import run

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def published(parsed_env):
    env = parsed_env
    scenario = run(env, [sys.executable, str(HERE / "reporter_scenario.py")])
    assert scenario.returncode == 0, scenario.stdout[-2000:] + scenario.stderr[-3000:]
    return json.loads(scenario.stdout.strip().splitlines()[-1])


def test_due_counts_only_what_the_scheduler_would_run(published):
    # hourly_due is due; paused, stale and broken DAGs are not, and daily_later is due in two hours.
    assert published["values"]["DagsDue"] == 1


def test_next_due_is_the_earliest_schedulable_dag(published):
    now = datetime.fromisoformat(published["now"])
    expected = (datetime.fromisoformat(published["next_due"]) - now).total_seconds()
    assert published["values"]["SecondsUntilNextDue"] == pytest.approx(expected, abs=1)
    assert published["values"]["SecondsUntilNextDue"] < 0, "an overdue DAG reads as already due"


def test_the_first_tasks_of_the_dags_due_next(published):
    # hourly_due is due (overdue): extract >> load, wait and retry start first; the others are not counted
    # (daily_later is due later; paused, stale and broken DAGs never run).
    assert published["values"]["NextDueFirstTasks"] == 3


def test_active_runs_task_instances_and_asset_queue(published):
    values = published["values"]
    assert values["DagRunsQueued"] == 1 and values["DagRunsRunning"] == 1
    assert values["TaskInstances_running"] == 1
    assert values["TaskInstances_queued"] == 1
    assert values["TaskInstances_deferred"] == 1
    assert values["TaskInstances_up_for_retry"] == 1
    assert values["TaskInstances_scheduled"] == 0
    assert values["AssetQueueEntries"] == 1


def test_reporter_and_waker_agree_on_names(published):
    assert set(published["published"]) == set(REPORTER_METRICS)


def test_a_failing_report_is_logged_and_retried_never_raised(monkeypatch, caplog):
    import threading

    from image import activity_reporter

    stop = threading.Event()
    calls = []

    def flaky(cloudwatch, namespace, now):
        calls.append(now)
        if len(calls) < 3:
            raise ConnectionError("CloudWatch unreachable")
        stop.set()
        return {"DagRunsQueued": 0}

    monkeypatch.setattr(activity_reporter, "report_once", flaky)
    caplog.set_level("INFO", logger="activity_reporter")
    activity_reporter.run(cloudwatch=None, namespace="Airflow/x", interval=0.01, stop=stop)
    events = [json.loads(r.getMessage())["event"] for r in caplog.records]
    assert events == ["report-failed", "report-failed", "reported"]
    assert json.loads(caplog.records[1].getMessage())["consecutive_failures"] == 2
