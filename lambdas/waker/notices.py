"""Problems the waker tells operators about itself, on the alarm topic: once when one starts, once when it ends.

The waker already knows when Airflow is awake but its activity reporter is silent, and when a service has
stayed below its desired count past the start limit. Sending those itself (SNS Publish, free at this volume)
replaces two custom metrics and their alarms, which would cost about $1 a month, and its message can name the
service and its latest ECS events. Only what the waker cannot report about itself (failing or not running)
stays a CloudWatch alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contracts.database import DATABASE_STUCK

from .model import Decision, Observation

SUBJECT_LIMIT = 100  # SNS Publish: a Subject is at most 100 printable ASCII characters, one line


@dataclass(frozen=True)
class Notice:
    subject: str
    message: str


def problems(decision: Decision, observed: Observation) -> dict[str, str]:
    """The problems this decision shows: name -> what an operator should know."""
    found = {}
    if decision.reporter_stale:
        found["reporter-stale"] = (
            "Airflow is awake but its activity reporter is silent, so the waker keeps it awake (unknown counts "
            "as busy) and it costs money. Check the scheduler task's activity-reporter container log."
        )
    stuck = observed.database_status
    if stuck in DATABASE_STUCK:
        found[f"database:{stuck}"] = (
            f"The stack's database is {stuck}: it will not become available by itself, so Airflow cannot wake "
            f"(the waker keeps asking for the database first). What to do: {DATABASE_STUCK[stuck]}."
        )
    for url in observed.missing_event_queues:
        found[f"event-queue-missing:{url.rsplit('/', 1)[-1]}"] = (
            f"The watched event queue {url} does not exist (its owner deleted it?): the waker counts it as empty. "
            "Recreate it, or remove it from waker.eventQueueArns and `pulumi up`."
        )
    for component in decision.not_starting:
        events = "\n".join(f"  {e}" for e in observed.service_events.get(component, ())) or "  (no ECS events)"
        found[f"not-starting:{component}"] = (
            f"The {component} service has stayed below its desired count past the start limit: its tasks do not "
            f"start (capacity, Spot or architecture not offered, image pull). Latest ECS events:\n{events}"
        )
    return found


def notices(stack: str, raised_before: Sequence[str], now_found: Mapping[str, str]) -> list[Notice]:
    """One notice per problem that started, one per problem that ended."""
    out = [
        Notice(_subject(f"{stack}: {name}"), f"{detail}\n\n`airflow-stack status` shows the stack's state.")
        for name, detail in now_found.items()
        if name not in raised_before
    ]
    out += [
        Notice(_subject(f"{stack}: resolved: {name}"), f"{name} no longer holds for {stack}.")
        for name in raised_before
        if name not in now_found
    ]
    return out


def parked(stack: str, count: int, parking_url: str) -> Notice:
    """A one-off notice: stale broker messages moved to the broker's dead-letter queue."""
    return Notice(
        _subject(f"{stack}: parked {count} stale broker message(s)"),
        f"{count} Celery message(s) on {stack}'s broker were older than Airflow's task_queued_timeout while no "
        "task was queued: Airflow had already failed their tasks (no worker took them in time; Celery cannot "
        f"revoke a message on SQS). They would have kept the stack awake, so they were moved to {parking_url}, "
        "where they stay for its retention for you to read. Re-run the failed tasks from the UI if they still "
        "matter, and check why no worker took them (`airflow-stack status`, the worker service's events).",
    )


def _subject(text: str) -> str:
    printable = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return printable[:SUBJECT_LIMIT]
