"""Pure decisions of the migration runner: what a database status or a stopped task means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

CONTAINER = "migrate"

# RDS statuses that pass by themselves; anything not listed here or below is a failure.
TRANSIENT_DB_STATUSES = frozenset(
    {
        "starting",
        "backing-up",
        "modifying",
        "rebooting",
        "configuring-enhanced-monitoring",
        "configuring-log-exports",
        "upgrading",
        "renaming",
        "resetting-master-credentials",
        "creating",
        "maintenance",
        "storage-optimization",
        "configuring-iam-database-auth",
        "stopping",
    }
)

DatabaseAction = Literal["proceed", "start", "wait", "fail"]


def database_action(status: str) -> DatabaseAction:
    """What to do about the metadata database before migrating, given its RDS status."""
    if status in ("available", "storage-optimization"):
        return "proceed"
    if status == "stopped":
        return "start"
    if status in TRANSIENT_DB_STATUSES:
        return "wait"
    return "fail"


@dataclass(frozen=True)
class Outcome:
    finished: bool
    succeeded: bool
    reason: str


def judge_task(task: dict[str, Any]) -> Outcome:
    """Read an ECS DescribeTasks entry of the migration task."""
    if task.get("lastStatus") != "STOPPED":
        return Outcome(False, False, f"task is {task.get('lastStatus', 'UNKNOWN')}")
    container = next((c for c in task.get("containers", []) if c.get("name") == CONTAINER), {})
    exit_code = container.get("exitCode")
    if exit_code == 0:
        return Outcome(True, True, "airflow db migrate finished with exit code 0")
    if exit_code is not None:
        return Outcome(
            True,
            False,
            f"airflow db migrate failed with exit code {exit_code}; "
            f"see the migrate log stream of task {task.get('taskArn', '?')}",
        )
    reason = container.get("reason") or task.get("stoppedReason") or "no reason given"
    return Outcome(True, False, f"migration task stopped before it ran: {reason}")
