"""Thirty days, minute by minute: the waker's real policy against a modelled cluster and a workload.

Each minute the waker runs, the simulator shows `waker.policy.decide` what the waker would observe (service
counts, the activity reporter's figures while the scheduler runs, broker and event-queue depth, UI requests,
the database's status), applies its decision with modelled delays (Fargate task start, scheduler start, RDS
start) and advances the workload's runs. It counts what costs money and whether runs started late.

The waker runs when the stack does: every minute while its minute tick is on, and asleep and still
(`waker.metering.minute_ticks`) only when something invokes it: the hourly watch (modelled at the top of each
hour), the one-time wake for a due DAG (the decision's `wake_at`), a wake window, a UI request. The minutes
between are billed as what they are, asleep, without asking the policy anything.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from contracts.components import CORE, WORKER
from contracts.metrics import REPORTER_METRICS
from contracts.waker import Tick, Wake, WakerSettings
from costs.model import CELERY_POLLS_PER_MINUTE
from lambdas.waker import metering
from lambdas.waker.model import Observation, ReporterMetrics, WakerState
from lambdas.waker.policy import decide

MINUTES = 30 * 24 * 60
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class BootTimes:
    task_start: int = 3  # minutes from desired count to a running Fargate task (image pull included)
    scheduler_ready: int = 1  # minutes from the scheduler task running to scheduling
    database_start: int = 10  # minutes for a stopped RDS instance to become available
    database_stop: int = 2


@dataclass(frozen=True)
class Run:
    due: int  # minute the run may start (a schedule's run_after, an event's arrival, a manual trigger)
    duration: int  # minutes each task takes
    tasks: int = 1
    kind: str = "scheduled"  # scheduled | event | manual


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    runs: tuple[Run, ...]
    holds: tuple[tuple[int, int], ...] = ()  # (minute, hold minutes): wake windows and wake requests
    ui_minutes: frozenset[int] = frozenset()  # minutes with UI requests


@dataclass
class RunState:
    run: Run
    started: int | None = None  # minute the scheduler queued it
    waiting_tasks: int = 0
    running_ends: list[int] = field(default_factory=list)  # end minute of each running task
    finished: int | None = None


@dataclass
class Result:
    workload: str
    awake_minutes: int = 0
    service_minutes: dict[str, int] = field(default_factory=dict)
    worker_minutes: int = 0
    first_worker_minutes: int = 0  # minutes with at least one worker (the first is priced on its own)
    database_minutes: int = 0
    wakes: int = 0
    late_scheduled: list[int] = field(default_factory=list)  # lateness in minutes of each late scheduled run
    # Each scheduled task's start after the moment it could have started on a cluster that never sleeps (its
    # due time, or later when it waits for a free slot of max_workers x concurrency): minutes, every task.
    task_lateness: list[int] = field(default_factory=list)
    event_waits: list[int] = field(default_factory=list)  # minutes from arrival to start, events and manual runs
    unfinished: int = 0
    timeline: list[int] = field(default_factory=list)  # per minute: 0 asleep, 1 core up, 2+ workers
    billed: list[Minute] = field(default_factory=list)  # per minute: what is billed (the chart's per-day cost)
    # CloudWatch calls as the waker's metering rule and the activity reporter make them.
    metrics_read: int = 0  # metrics requested with GetMetricData
    metric_writes: int = 0  # PutMetricData requests
    waker_metric_hours: set[int] = field(default_factory=set)  # hours in which the waker published
    # Beyond the hourly watch (in the idle month): the minutes the waker's minute tick runs (on unless asleep
    # and still, waker/metering.py), the broker's requests while workers run (each worker's long poll, every
    # 10 + 1 s when empty, and a send and a delete per task), and the Scheduler invocations of one-time wakes
    # for due DAGs and of wake windows.
    minute_ticks: int = 0
    sqs_requests: float = 0.0
    scheduler_invocations: int = 0
    reporter_metric_hours: set[int] = field(default_factory=set)  # hours in which the reporter published


@dataclass(frozen=True)
class Minute:
    services: frozenset[str]  # non-worker services asked for
    workers: int
    database_up: bool
    metrics_read: int = 0
    metric_writes: int = 0
    sqs_requests: float = 0.0
    scheduler_invocations: int = 0
    minute_tick: bool = False


def simulate(
    workload: Workload,
    settings: WakerSettings,
    boot: BootTimes = BootTimes(),
    minutes: int = MINUTES,
    metrics_per_read: int = len(REPORTER_METRICS),
    every_minute: bool = False,
) -> Result:
    """`metrics_per_read`: the metrics a tick requests when it reads (the reporter's, plus the load balancer's
    request count on a stack with one). `every_minute`: ask the policy every minute, also while the minute tick
    is off (asleep and still, what it decides then must change nothing: the tests compare)."""
    result = Result(workload.name, service_minutes=dict.fromkeys(settings.services, 0))
    desired = dict.fromkeys(settings.services, 0)
    up_at: dict[str, int | None] = dict.fromkeys(settings.services, None)  # minute each service runs from
    database = "available"
    database_ready_at = 0
    state = WakerState()
    # Runs in due order; `runs` holds those that have arrived and not finished (the rest wait in `pending`).
    pending = [RunState(r) for r in sorted(workload.runs, key=lambda r: r.due)]
    pending_dues = [r.run.due for r in pending]
    next_pending = 0
    runs: list[RunState] = []
    holds = dict(workload.holds)
    scheduled_dues = sorted({r.due for r in workload.runs if r.kind == "scheduled"})
    capacity = settings.max_workers * settings.worker_concurrency
    # Event runs arrive on watched queues, which keep the minute tick on (waker/metering.py).
    watches_queues = any(r.kind == "event" for r in workload.runs)
    ticks_on = True

    def running(component: str, t: int) -> bool:
        start = up_at.get(component)
        return desired.get(component, 0) > 0 and start is not None and t >= start

    invoked_at = sorted({*holds, *workload.ui_minutes})  # minutes something outside invokes the waker
    t = 0
    while t < minutes:
        now = START + timedelta(minutes=t)
        sqs_before, scheduler_before = result.sqs_requests, result.scheduler_invocations
        if database == "starting" and t >= database_ready_at:
            database = "available"
        if database == "stopping" and t >= database_ready_at:
            database = "stopped"
        running_now = {c: desired[c] if running(c, t) else 0 for c in desired}  # desired changes after deciding
        scheduler_up = running_now["scheduler"] > 0 and t >= (up_at["scheduler"] or 0) + boot.scheduler_ready
        triggerer_up = running_now["triggerer"] > 0 if "triggerer" in settings.services else scheduler_up
        workers_up = running_now.get(WORKER, 0)
        while next_pending < len(pending) and pending[next_pending].run.due <= t:
            runs.append(pending[next_pending])
            next_pending += 1

        # The workload advances while the cluster can run it.
        if scheduler_up and database == "available":
            for run in runs:
                picked = run.run.kind != "event" or triggerer_up
                if run.started is None and picked:
                    run.started = t
                    run.waiting_tasks = run.run.tasks
                    lateness = t - run.run.due
                    if run.run.kind == "scheduled" and lateness > 0:
                        result.late_scheduled.append(lateness)
                    elif run.run.kind != "scheduled":
                        result.event_waits.append(lateness)
            for run in runs:  # tasks ending now free their slots for tasks starting now
                run.running_ends = [end for end in run.running_ends if end > t]
            slots = workers_up * settings.worker_concurrency - sum(len(r.running_ends) for r in runs)
            for run in runs:
                while run.waiting_tasks and slots > 0:
                    index = run.run.tasks - run.waiting_tasks
                    run.waiting_tasks -= 1
                    run.running_ends.append(t + run.run.duration)
                    slots -= 1
                    result.sqs_requests += 2  # the scheduler's send, the worker's delete
                    if run.run.kind == "scheduled":
                        earliest = run.run.due + index // capacity * run.run.duration
                        result.task_lateness.append(max(0, t - earliest))
                if run.started is not None and run.finished is None and not run.waiting_tasks and not run.running_ends:
                    run.finished = t
            runs = [r for r in runs if r.finished is None]

        # What the waker observes.
        active = [r for r in runs if r.started is not None]
        waiting = sum(r.waiting_tasks for r in active)
        in_flight = sum(len(r.running_ends) for r in active)
        reporter = None
        if scheduler_up:
            future = bisect.bisect_right(scheduled_dues, t)
            unstarted = [r for r in runs if r.started is None and r.run.kind == "scheduled"]
            overdue = [r.run.due for r in unstarted]
            next_due = min(overdue) if overdue else (scheduled_dues[future] if future < len(scheduled_dues) else None)
            # The first tasks of the runs due by then: the overdue ones, or those due at the next due time.
            first_tasks = sum(r.run.tasks for r in unstarted)
            if next_due is not None and next_due > t:
                due_next = pending[
                    bisect.bisect_left(pending_dues, next_due) : bisect.bisect_right(pending_dues, next_due)
                ]
                first_tasks += sum(r.run.tasks for r in due_next if r.run.kind == "scheduled")
            reporter = ReporterMetrics(
                published_at=now - timedelta(seconds=30),
                dag_runs_queued=sum(1 for r in active if not r.running_ends and r.waiting_tasks),
                dag_runs_running=sum(1 for r in active if r.running_ends),
                task_instances={"queued": waiting, "running": in_flight},
                dags_due=len(overdue),
                seconds_until_next_due=None if next_due is None else (next_due - t) * 60 + 30,
                asset_queue=0,
                next_due_first_tasks=first_tasks,
            )
        if t == 0 and scheduled_dues:
            # The month starts asleep after a deployment whose first parse told the waker the next due time.
            state = state.but(next_due_at=START + timedelta(minutes=scheduled_dues[0]))
        events_waiting = sum(1 for r in runs if r.started is None and r.run.kind == "event")
        observation = Observation(
            desired=dict(desired),
            running=running_now,
            reporter=reporter,
            broker_visible=waiting,
            broker_in_flight=in_flight,
            event_queue_messages=events_waiting,
            ui_requests=1 if t in workload.ui_minutes else 0,
            database_status=database if settings.stop_database else None,
        )
        request = Wake(holds[t], "window") if t in holds else Tick()
        result.scheduler_invocations += int(t in holds)
        decision = decide(now, settings, observation, state, request)
        state = decision.state
        ticked = ticks_on  # this minute's tick ran if the previous decision left the minute tick on
        result.minute_ticks += int(ticked)
        ticks_on = metering.minute_ticks(
            decision, observation.desired, observation.running, observation.database_status, watches_queues
        )
        read = metrics_per_read if metering.reads_metrics(observation.desired, observation.running) else 0
        writes = 0
        if metering.writes_metrics(decision, observation.desired, observation.running):
            writes += 1
            result.waker_metric_hours.add(t // 60)
        if scheduler_up:  # the activity reporter beside the scheduler publishes once a minute
            writes += 1
            result.reporter_metric_hours.add(t // 60)
        result.metrics_read += read
        result.metric_writes += writes
        if decision.database_action == "start" and database == "stopped":
            database, database_ready_at = "starting", t + boot.database_start
        elif decision.database_action == "stop" and database == "available":
            database, database_ready_at = "stopping", t + boot.database_stop

        was_awake = any(desired[c] for c in CORE if c in desired)
        for component, count in decision.desired.items():
            if count > 0 and desired[component] == 0:
                up_at[component] = t + boot.task_start
            if count == 0:
                up_at[component] = None
            desired[component] = count
        awake = any(desired[c] for c in CORE if c in desired)
        result.wakes += int(awake and not was_awake)
        # A wake for a due DAG is the one-time schedule's invocation (the tick would also find it).
        result.scheduler_invocations += int(awake and not was_awake and "a DAG is due" in decision.reason)
        result.sqs_requests += workers_up * CELERY_POLLS_PER_MINUTE

        # What is billed this minute: tasks from the moment they are asked for, the database while not stopped.
        result.awake_minutes += int(awake)
        for component in settings.services:
            if component != WORKER and desired[component]:
                result.service_minutes[component] += 1
        result.worker_minutes += desired.get(WORKER, 0)
        result.first_worker_minutes += min(1, desired.get(WORKER, 0))
        result.database_minutes += int(database != "stopped")
        result.timeline.append(0 if not awake else 1 + desired.get(WORKER, 0))
        services = frozenset(c for c in settings.services if c != WORKER and desired[c])
        result.billed.append(
            Minute(
                services,
                desired.get(WORKER, 0),
                database != "stopped",
                read,
                writes,
                result.sqs_requests - sqs_before,
                result.scheduler_invocations - scheduler_before,
                ticked,
            )
        )
        t += 1
        if not ticks_on and not every_minute:  # asleep and still: nothing runs until the next invocation
            skipped = min(minutes, _next_invocation(t, decision.wake_at, invoked_at)) - t
            database_up = database != "stopped"
            result.database_minutes += skipped * int(database_up)
            result.timeline.extend([0] * skipped)
            result.billed.extend([Minute(frozenset(), 0, database_up, sqs_requests=0.0)] * skipped)
            t += skipped

    result.unfinished = len(runs) + len(pending) - next_pending
    return result


WATCH_MINUTES = 60  # the hourly watch (rate(1 hour)), modelled at the top of each hour


def _next_invocation(t: int, wake_at: datetime | None, invoked_at: list[int]) -> int:
    """The first minute from `t` at which the waker runs with its minute tick off: the hourly watch, the
    one-time wake (at `wake_at`, so the first whole minute from it), or a window's or a UI request's minute."""
    candidates = [-(-t // WATCH_MINUTES) * WATCH_MINUTES]
    if wake_at is not None:
        candidates.append(math.ceil((wake_at - START).total_seconds() / 60))
    index = bisect.bisect_left(invoked_at, t)
    if index < len(invoked_at):
        candidates.append(invoked_at[index])
    return max(t, min(candidates))


@dataclass(frozen=True)
class Oracle:
    """A cluster that knows the future: up only while tasks run (plus its boot) and while people asked for
    it (wake windows, holds); the database up wherever the stack's settings would keep it up."""

    core_hours: float
    worker_hours: float
    database_hours: float  # only what is billed beyond the idle month (a stack that stops its database)


def _merge(spans: list[tuple[int, int]], bridge: int = 0) -> list[tuple[int, int]]:
    """Union of [start, end) spans, joining those less than `bridge` minutes apart."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] < max(bridge, 1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def oracle(workload: Workload, boot: BootTimes, settings: WakerSettings, minutes: int = MINUTES) -> Oracle:
    ready = boot.task_start + boot.scheduler_ready
    spans = [(max(0, run.due - ready), run.due + run.duration) for run in workload.runs]
    spans += [(start, start + hold) for start, hold in workload.holds]
    core = _merge([(a, min(b, minutes)) for a, b in spans])
    # Workers packed perfectly: the task-minutes, at full concurrency.
    worker_minutes = sum(run.tasks * run.duration for run in workload.runs) / settings.worker_concurrency
    database_minutes = 0
    if settings.stop_database:
        # Started its start time before the services, kept up across sleeps too short to stop it (the waker's
        # database_stop_after_minutes rule).
        with_start = [(max(0, a - boot.database_start), b) for a, b in core]
        database = _merge(with_start, bridge=settings.database_stop_after_minutes)
        database_minutes = sum(b - a for a, b in database)
    return Oracle(
        core_hours=sum(b - a for a, b in core) / 60,
        worker_hours=worker_minutes / 60,
        database_hours=database_minutes / 60,
    )
