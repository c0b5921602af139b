"""When the waker reads and writes CloudWatch metrics: never while the cluster is asleep and still.

Metric reads (GetMetricData, billed per metric requested), metric writes (PutMetricData, per request) and
custom metrics (per metric, prorated by the hours in which they receive data) are most of what a sleeping
stack would pay for monitoring. Asleep with no task asked for or running, the activity reporter cannot be
publishing, the load balancer sends the api-server nothing (the waking page answers), and the waker's own
figures would all be zero: so it reads none and writes none. Its alarms treat missing data as not breaching.
The handler and the cost simulator both follow these two functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from waker.model import Decision


def still(desired: Mapping[str, int], running: Mapping[str, int]) -> bool:
    """Nothing asked for and nothing running: a cluster fully asleep."""
    return not any(desired.values()) and not any(running.values())


def reads_metrics(desired: Mapping[str, int], running: Mapping[str, int]) -> bool:
    return not still(desired, running)


def writes_metrics(decision: Decision, desired: Mapping[str, int], running: Mapping[str, int]) -> bool:
    """Publish while anything runs or is asked for, and on the tick that puts it to sleep."""
    return decision.mode != "asleep" or not still(desired, running) or bool(decision.changes_to(desired))
