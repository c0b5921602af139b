"""When the waker reads and writes CloudWatch metrics, and when it ticks every minute: neither while the
cluster is asleep and still.

Metric reads (GetMetricData, billed per metric requested), metric writes (PutMetricData, per request) and
custom metrics (per metric, prorated by the hours in which they receive data) are most of what a sleeping
stack would pay for monitoring. Asleep with no task asked for or running, the activity reporter cannot be
publishing, the load balancer sends the api-server nothing (the waking page answers), and the waker's own
figures would all be zero: so it reads none and writes none. Its alarms treat missing data as not breaching.
The handler and the cost simulator both follow these two functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from .model import Decision


def still(desired: Mapping[str, int], running: Mapping[str, int]) -> bool:
    """Nothing asked for and nothing running: a cluster fully asleep."""
    return not any(desired.values()) and not any(running.values())


def reads_metrics(desired: Mapping[str, int], running: Mapping[str, int]) -> bool:
    return not still(desired, running)


def writes_metrics(decision: Decision, desired: Mapping[str, int], running: Mapping[str, int]) -> bool:
    """Publish while anything runs or is asked for, and on the tick that puts it to sleep."""
    return decision.mode != "asleep" or not still(desired, running) or bool(decision.changes_to(desired))


def minute_ticks(
    decision: Decision,
    desired: Mapping[str, int],
    running: Mapping[str, int],
    database: str | None,
    watches_queues: bool,
) -> bool:
    """Whether the per-minute tick must run after this decision. Asleep and still, nothing it would see needs
    it: a due DAG has its one-time wake, a window its schedule, a visit, a person, a deploy and a DAG change
    invoke the waker themselves, and the broker gets no message while the scheduler is down. An hourly watch
    tick covers the rest (AWS restarting a stopped database after seven days, a message left behind). Watched
    event queues are filled from outside, so with any the minute tick always runs."""
    if watches_queues or decision.follow_up or decision.mode != "asleep" or not still(desired, running):
        return True
    if decision.database_action is not None or bool(decision.changes_to(desired)):
        return True
    return database not in (None, "stopped", "available")  # a start or stop under way is followed to its end
