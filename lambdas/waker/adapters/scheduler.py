"""EventBridge Scheduler: the one-time wake for the next due DAG, kept in the stack's schedule group, and the
per-minute tick switched on and off."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

from contracts.waker import Wake, to_event


def set_one_time_wake(
    scheduler: Any, *, group: str, name: str, at: datetime | None, target_arn: str, role_arn: str
) -> None:
    """Create or move the one-time wake to `at`, or delete it when `at` is None (both idempotent)."""
    if at is None:
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule(GroupName=group, Name=name)
        return
    arguments = {
        "GroupName": group,
        "Name": name,
        "ScheduleExpression": f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": target_arn,
            "RoleArn": role_arn,
            # `schedule`: the waker's own wake for a due DAG, not a person's (the short grace may apply)
            "Input": json.dumps(to_event(Wake(hold_minutes=0, reason="next DAG due", source="schedule"))),
        },
        "ActionAfterCompletion": "DELETE",
        "Description": "Wake Airflow for the next due DAG (written by the waker when it went to sleep)",
    }
    try:
        scheduler.update_schedule(**arguments)
    except scheduler.exceptions.ResourceNotFoundException:
        scheduler.create_schedule(**arguments)


def set_enabled(scheduler: Any, *, group: str, name: str, enabled: bool) -> bool:
    """Switch a recurring schedule on or off, keeping the rest of it (UpdateSchedule replaces the whole
    schedule). Returns whether it changed."""
    schedule = scheduler.get_schedule(GroupName=group, Name=name)
    state = "ENABLED" if enabled else "DISABLED"
    if schedule.get("State") == state:
        return False
    arguments = {
        key: schedule[key]
        for key in (
            "ScheduleExpression",
            "ScheduleExpressionTimezone",
            "FlexibleTimeWindow",
            "Target",
            "Description",
            "StartDate",
            "EndDate",
            "KmsKeyArn",
            "ActionAfterCompletion",
        )
        if schedule.get(key) is not None
    }
    scheduler.update_schedule(GroupName=group, Name=name, State=state, **arguments)
    return True
