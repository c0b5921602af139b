"""Celery configuration of the worker: Airflow's own, plus ECS task scale-in protection while it holds a task.

A worker that runs a task asks the ECS agent to protect its task from scale-in
(PUT $ECS_AGENT_URI/task-protection/v1/state, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html),
and lifts the protection when its last task ends. ECS then stops only idle workers when the waker lowers the
desired count, so the waker may scale workers in while tasks run elsewhere.

The worker's pool processes share one count of running tasks (a file under a lock), so the protection is set
by the first task and lifted by the last. Without ECS_AGENT_URI (not on ECS) it does nothing. A failing call to
the agent is logged and never fails a task.

Loaded by the worker through `[celery] celery_config_options = worker_protection.CELERY_CONFIG`; the image
puts this file in $AIRFLOW_HOME/config, which Airflow adds to sys.path.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import task_postrun, task_prerun, worker_init

CELERY_CONFIG = DEFAULT_CELERY_CONFIG

logger = logging.getLogger("worker_protection")
MAX_MINUTES = 2880  # ECS's longest protection


def _minutes() -> int:
    return max(1, min(MAX_MINUTES, int(os.environ.get("AIRFLOW_WORKER_PROTECTION_MINUTES", "360"))))


def _count_file() -> Path:
    return Path(os.environ.get("AIRFLOW_WORKER_PROTECTION_STATE", "/tmp/airflow-worker-running-tasks"))  # noqa: S108


@contextlib.contextmanager
def _running_tasks() -> Iterator[list[int]]:
    """The shared count of running tasks, locked while the caller changes it."""
    path = _count_file()
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read().strip()
        box = [int(text) if text else 0]
        yield box
        handle.seek(0)
        handle.truncate()
        handle.write(str(max(0, box[0])))
        handle.flush()


def set_protection(enabled: bool, agent_uri: str | None = None) -> bool:
    agent = agent_uri or os.environ.get("ECS_AGENT_URI")
    if not agent:
        return False
    body: dict[str, object] = {"ProtectionEnabled": enabled}
    if enabled:
        body["ExpiresInMinutes"] = _minutes()
    if not agent.startswith(("http://", "https://")):
        return False
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        f"{agent}/task-protection/v1/state",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the agent's own http URI)
            answer = json.loads(response.read() or b"{}")
    except Exception as error:  # the task must run even if the agent cannot be reached
        logger.warning(json.dumps({"event": "protection-failed", "enabled": enabled, "error": str(error)}))
        return False
    failure = answer.get("failure")
    logger.info(json.dumps({"event": "protection", "enabled": enabled, "failure": failure}))
    return not failure


@worker_init.connect
def _worker_starting(**_: object) -> None:
    """A new worker holds no task (a count left by a worker that died is stale)."""
    with _running_tasks() as running:
        running[0] = 0


@task_prerun.connect
def _task_started(**_: object) -> None:
    with _running_tasks() as running:
        running[0] += 1
        if running[0] == 1:
            set_protection(True)


@task_postrun.connect
def _task_finished(**_: object) -> None:
    with _running_tasks() as running:
        running[0] -= 1
        if running[0] <= 0:
            set_protection(False)
