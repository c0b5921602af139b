"""The waker Lambda: observe, decide (waker.policy), act. Thin on purpose.

Invoked every minute by EventBridge Scheduler ({"action": "tick"}; asleep and still, it switches that tick off
and an hourly watch sends the same), by wake windows and the one-time
next-due wake ({"action": "wake", ...}), optionally by a change to the DAG bundle, and by people:
{"action": "wake", "holdMinutes": N, "reason": "..."}, {"action": "sleep", "reason": "...", "force": false},
{"action": "status"}, before `pulumi up` {"action": "deploy", "holdMinutes": N} (the database up and held), and
from the migration runner {"action": "migration", "holdMinutes": N} (the services held at zero meanwhile).
A lease (adapters/lease.py) keeps one deciding waker at a time without reserved
concurrency; a status request decides nothing and takes no lease. Every count it sets is absolute, so a
repeated decision changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from contracts.components import WORKER
from contracts.metrics import WAKER_AWAKE, WAKER_DESIRED_WORKERS, WAKER_SCALE_CHANGES
from contracts.waker import (
    NEXT_DUE_WAKE,
    REQUIRED_VARIABLES,
    BadEvent,
    Request,
    Status,
    Wake,
    WakerSettings,
    WakerVariable,
    dag_change_parameter,
    parse_event,
    schedule_name,
)

from . import metering, notices
from .adapters import change, cloudwatch, ecs, elbv2, lease, logs, rds, scheduler, sns, sqs
from .adapters import state as state_store
from .lead import database_lead_minutes, services_lead_minutes
from .model import Decision, Observation, WakerState
from .policy import decide, stale_broker_cutoff

logger = logging.getLogger("waker")
logger.setLevel(logging.INFO)


def log(event: str, **fields: Any) -> None:
    logger.info(json.dumps({"event": event, **fields}, default=str, sort_keys=True))


@dataclass(frozen=True)
class WakerConfig:
    stack: str
    cluster: str
    settings: WakerSettings
    broker_queue_url: str
    broker_parking_queue_url: str
    event_queue_urls: tuple[str, ...]
    metric_namespace: str
    schedule_group: str
    scheduler_role_arn: str
    state_parameter: str
    lease_parameter: str
    database_instance_id: str | None
    load_balancer: str | None  # CloudWatch dimension values, e.g. app/airflow-dev-ui/0123456789abcdef
    target_group: str | None
    listener_rule_arn: str | None = None  # the waking page's rule: catches the UI's visitors while asleep
    api_target_group_arn: str | None = None  # whose health says the UI can be shown
    api_server_log_group: str | None = None  # without a load balancer: whose access log shows UI use
    alarm_topic_arn: str | None = None  # where the waker's notices go (notices.py)
    tick_schedule: str | None = None  # the per-minute tick, switched off while asleep and still

    @property
    def switches_ui(self) -> bool:
        return bool(self.listener_rule_arn and self.api_target_group_arn)

    @property
    def one_time_wake_name(self) -> str:
        return schedule_name(self.stack, NEXT_DUE_WAKE)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> WakerConfig:
        missing = [key.value for key in REQUIRED_VARIABLES if not env.get(key)]
        if missing:
            raise RuntimeError(f"waker environment variables missing: {', '.join(missing)}")

        def optional(key: WakerVariable) -> str | None:
            return env.get(key) or None

        return cls(
            stack=env[WakerVariable.STACK],
            cluster=env[WakerVariable.CLUSTER],
            settings=WakerSettings.from_json(env[WakerVariable.WAKER_SETTINGS]),
            broker_queue_url=env[WakerVariable.BROKER_QUEUE_URL],
            broker_parking_queue_url=env[WakerVariable.BROKER_PARKING_QUEUE_URL],
            event_queue_urls=tuple(json.loads(env.get(WakerVariable.EVENT_QUEUE_URLS) or "[]")),
            metric_namespace=env[WakerVariable.METRIC_NAMESPACE],
            schedule_group=env[WakerVariable.SCHEDULE_GROUP],
            scheduler_role_arn=env[WakerVariable.SCHEDULER_ROLE_ARN],
            state_parameter=env[WakerVariable.STATE_PARAMETER],
            lease_parameter=env[WakerVariable.LEASE_PARAMETER],
            database_instance_id=optional(WakerVariable.DB_INSTANCE_ID),
            load_balancer=optional(WakerVariable.LOAD_BALANCER),
            target_group=optional(WakerVariable.TARGET_GROUP),
            listener_rule_arn=optional(WakerVariable.LISTENER_RULE_ARN),
            api_target_group_arn=optional(WakerVariable.API_TARGET_GROUP_ARN),
            api_server_log_group=optional(WakerVariable.API_SERVER_LOG_GROUP),
            alarm_topic_arn=optional(WakerVariable.ALARM_TOPIC_ARN),
            tick_schedule=optional(WakerVariable.TICK_SCHEDULE),
        )


@dataclass(frozen=True)
class Clients:
    ecs: Any
    sqs: Any
    cloudwatch: Any
    scheduler: Any
    rds: Any
    ssm: Any
    elbv2: Any
    sns: Any
    logs: Any = None  # read only where the waker is given the api-server's log group

    @classmethod
    def from_boto3(cls) -> Clients:
        import boto3

        names = ("ecs", "sqs", "cloudwatch", "scheduler", "rds", "ssm", "elbv2", "sns", "logs")
        return cls(*(boto3.client(name) for name in names))


def observe(config: WakerConfig, clients: Clients, now: datetime) -> Observation:
    desired, running, events = ecs.service_counts(clients.ecs, config.cluster, config.settings.services)
    visible, in_flight = sqs.depth(clients.sqs, config.broker_queue_url)
    reads = metering.reads_metrics(desired, running)  # asleep and still: no metric to read (and none billed)
    requests = 0
    window = min(config.settings.idle_minutes, 5)
    try:
        if reads and config.load_balancer and config.target_group:
            requests = cloudwatch.ui_requests(
                clients.cloudwatch, config.load_balancer, config.target_group, now, minutes=window
            )
        if reads and config.api_server_log_group:  # no load balancer: the api-server's own access log
            requests += logs.ui_requests(clients.logs, config.api_server_log_group, now, minutes=window)
    except ClientError as error:  # unknown is busy: while up, a request someone may be making
        log("ui-requests-unreadable", why=str(error))
        requests = 1 if any(desired.values()) else 0
    database = None
    if config.settings.stop_database and config.database_instance_id:
        database = rds.status(clients.rds, config.database_instance_id)
    healthy = None
    if config.switches_ui:
        assert config.api_target_group_arn is not None
        try:
            healthy = elbv2.api_server_healthy(clients.elbv2, config.api_target_group_arn)
        except ClientError as error:  # not known: the waking page's rule is left as it is this run
            log("target-health-unreadable", why=str(error))
    event_messages, missing_queues = sqs.visible_messages(clients.sqs, config.event_queue_urls)
    reporter = None
    if reads:
        try:
            reporter = cloudwatch.latest_reporter_metrics(clients.cloudwatch, config.metric_namespace, now)
        except (cloudwatch.UnreadableReport, ClientError) as error:  # no report: unknown, so busy while awake
            log("reporter-unreadable", why=str(error))
    return Observation(
        api_server_healthy=healthy,
        desired=desired,
        running=running,
        reporter=reporter,
        broker_visible=visible,
        broker_in_flight=in_flight,
        event_queue_messages=event_messages,
        missing_event_queues=missing_queues,
        ui_requests=requests,
        database_status=database,
        service_events=events,
    )


def _without_stale_broker_messages(
    config: WakerConfig, clients: Clients, observed: Observation, now: datetime
) -> tuple[Observation, int]:
    """Park the broker's stale messages (policy.stale_broker_cutoff) on its dead-letter queue, and observe
    the broker without them. A failure to park leaves them counted (busy), logged, and tried next run."""
    cutoff = stale_broker_cutoff(now, config.settings, observed)
    if cutoff is None:
        return observed, 0
    try:
        parked = sqs.park_stale(
            clients.sqs, config.broker_queue_url, config.broker_parking_queue_url, sent_before=cutoff
        )
    except Exception as error:  # any failure here must not stop the decision
        log("broker-parking-failed", error=str(error))
        return observed, 0
    if parked:
        log("broker-stale-parked", parked=parked, sent_before=cutoff)
    return replace(observed, broker_visible=max(0, observed.broker_visible - parked)), parked


def report(
    request_kind: str, decision: Decision, observed: Observation, state: WakerState, settings: WakerSettings
) -> dict[str, Any]:
    reporter = observed.reporter
    return {
        "ok": not decision.refused,
        "action": request_kind,
        "state": decision.mode,
        "reason": decision.reason,
        "desired": dict(decision.desired),
        "current": {"desired": dict(observed.desired), "running": dict(observed.running)},
        "nextWakeAt": decision.wake_at.isoformat() if decision.wake_at else None,
        "uiRoute": decision.ui_route,
        "nextDueAt": state.next_due_at.isoformat() if state.next_due_at else None,
        "holdUntil": state.hold_until.isoformat() if state.hold_until else None,
        "databaseHeldUntil": state.database_hold_until.isoformat() if state.database_hold_until else None,
        "maintenance": state.maintenance or None,
        "sleepHoldUntil": state.sleep_hold_until.isoformat() if state.sleep_hold_until else None,
        "awakeSince": state.awake_since.isoformat() if state.awake_since else None,
        "visit": decision.visit or None,
        "visitWakeLimit": settings.max_visit_wakes_per_day,
        # The learned lead (policy.services_lead_minutes) and the measured figures it comes from.
        "lead": {
            "servicesMinutes": services_lead_minutes(settings, state),
            "measuredWakeMinutes": list(state.wake_minutes),
            "databaseMinutes": database_lead_minutes(settings, state) if settings.stop_database else None,
            "measuredDatabaseStartMinutes": list(state.database_start_minutes),
        },
        "shortGrace": state.scheduled_only,
        "minuteTicks": state.minute_ticks,
        "notStarting": {
            c: {"shortSince": state.short_since.get(c), "events": list(observed.service_events.get(c, ()))}
            for c in decision.not_starting
        },
        "signals": {
            "brokerVisible": observed.broker_visible,
            "brokerInFlight": observed.broker_in_flight,
            "eventQueueMessages": observed.event_queue_messages,
            "uiRequests": observed.ui_requests,
            "database": observed.database_status,
            "reporter": None
            if reporter is None
            else {
                "publishedAt": reporter.published_at.isoformat(),
                "dagRunsQueued": reporter.dag_runs_queued,
                "dagRunsRunning": reporter.dag_runs_running,
                "taskInstances": dict(reporter.task_instances),
                "dagsDue": reporter.dags_due,
                "assetQueue": reporter.asset_queue,
            },
            "reporterStale": decision.reporter_stale,
        },
    }


# The lease outlives the function's 60 s timeout; a tick waits briefly (the next comes in a minute), a person's
# request waits longer.
LEASE_TTL = timedelta(seconds=90)
LEASE_WAIT_SECONDS = {"tick": 5.0} | dict.fromkeys(("wake", "sleep", "deploy", "maintenance", "migration"), 40.0)
VISIT_LEASE_WAIT_SECONDS = 8.0  # the waking page waits for the answer; a burst of visits queues briefly


def _lease_wait(request: Request) -> float:
    if isinstance(request, Wake) and request.source == "visit":
        return VISIT_LEASE_WAIT_SECONDS
    return LEASE_WAIT_SECONDS[request.kind]


def handle(
    event: Any,
    *,
    config: WakerConfig,
    clients: Clients,
    now: datetime,
    function_arn: str,
    holder: str = "waker",
    clock: Any = None,
    lease_wait_seconds: float | None = None,
) -> dict[str, Any]:
    try:
        request = parse_event(event, default_hold_minutes=config.settings.default_hold_minutes)
    except BadEvent as error:
        log("rejected", error=str(error), received=event)
        return {"ok": False, "error": str(error)}
    if isinstance(request, Status):
        return _decide(request, config=config, clients=clients, now=now, function_arn=function_arn)
    claimed = isinstance(request, Wake) and request.source == "change"
    if claimed and not change.claim(clients.ssm, dag_change_parameter(config.stack), now):
        log("change-coalesced", action=request.kind)
        return {"ok": True, "coalesced": True, "reason": "a DAG change within the last minutes already woke it"}
    answer = _under_lease(
        request,
        config=config,
        clients=clients,
        now=now,
        function_arn=function_arn,
        holder=holder,
        clock=clock,
        lease_wait_seconds=lease_wait_seconds,
    )
    if claimed and not answer.get("ok"):
        change.withdraw(clients.ssm, dag_change_parameter(config.stack))  # the next change of the burst acts
    return answer


def _under_lease(
    request: Request,
    *,
    config: WakerConfig,
    clients: Clients,
    now: datetime,
    function_arn: str,
    holder: str,
    clock: Any,
    lease_wait_seconds: float | None,
) -> dict[str, Any]:
    if not lease.acquire(
        clients.ssm,
        config.lease_parameter,
        holder,
        now=clock or (lambda: now),
        ttl=LEASE_TTL,
        wait_seconds=_lease_wait(request) if lease_wait_seconds is None else lease_wait_seconds,
    ):
        log("busy", action=request.kind)
        return {"ok": False, "busy": True, "error": "another waker run is deciding; try again in a minute"}
    try:
        return _decide(request, config=config, clients=clients, now=now, function_arn=function_arn)
    finally:
        lease.release(clients.ssm, config.lease_parameter, holder)


def _decide(
    request: Request, *, config: WakerConfig, clients: Clients, now: datetime, function_arn: str
) -> dict[str, Any]:
    state, repairs = state_store.load(clients.ssm, config.state_parameter)
    if repairs:  # the next save writes the repaired state
        log("state-repaired", repairs=repairs)
    observed = observe(config, clients, now)
    parked = 0
    if not isinstance(request, Status):  # a status request changes nothing
        observed, parked = _without_stale_broker_messages(config, clients, observed, now)
    decision = decide(now, config.settings, observed, state, request)
    if isinstance(request, Status) or decision.refused:
        if decision.refused:
            log("refused", action=request.kind, reason=decision.reason)
        return report(request.kind, decision, observed, decision.state, config.settings)  # changes nothing

    # The next wake is written before anything is put to sleep.
    new_state = decision.state
    try:
        if decision.wake_at != state.scheduled_wake_at:
            scheduler.set_one_time_wake(
                clients.scheduler,
                group=config.schedule_group,
                name=config.one_time_wake_name,
                at=decision.wake_at,
                target_arn=function_arn,
                role_arn=config.scheduler_role_arn,
            )
            new_state = new_state.but(scheduled_wake_at=decision.wake_at)
        database_changed = None
        if decision.database_action and config.database_instance_id:
            database_changed = rds.apply(clients.rds, config.database_instance_id, decision.database_action)
        changes = decision.changes(observed)
        ecs.set_desired_counts(clients.ecs, config.cluster, config.settings.services, changes)
        route_changed = False
        if decision.ui_route and config.switches_ui:
            assert config.listener_rule_arn
            if elbv2.current_route(clients.elbv2, config.listener_rule_arn) != decision.ui_route:
                elbv2.route_to(clients.elbv2, config.listener_rule_arn, route=decision.ui_route)
                route_changed = True
        # Problems are remembered before they are sent: a notice that fails to send fails the run (the waker-errors
        # alarm), rather than being sent again every minute.
        found = notices.problems(decision, observed)
        to_send = notices.notices(config.stack, new_state.raised, found) if config.alarm_topic_arn else []
        if parked and config.alarm_topic_arn:
            to_send.append(notices.parked(config.stack, parked, config.broker_parking_queue_url))
        new_state = new_state.but(raised=tuple(found))
        if config.tick_schedule:
            ticks = metering.minute_ticks(
                decision,
                observed.desired,
                observed.running,
                observed.database_status,
                watches_queues=bool(config.event_queue_urls),
            )
            if ticks != state.minute_ticks:  # idempotent: a switch that failed is tried again on the next run
                scheduler.set_enabled(
                    clients.scheduler, group=config.schedule_group, name=config.tick_schedule, enabled=ticks
                )
                log("minute-ticks", enabled=ticks)
            new_state = new_state.but(minute_ticks=ticks)
    except Exception:
        # What was asked for (a wake's hold, a sleep, maintenance) is remembered even when acting on it failed
        # (a throttled UpdateService): the next run sees the counts as they are and repairs them for it.
        with contextlib.suppress(Exception):
            state_store.save(clients.ssm, config.state_parameter, new_state)
        raise
    state_store.save(clients.ssm, config.state_parameter, new_state)
    for notice in to_send:
        assert config.alarm_topic_arn
        message_id = sns.notify(clients.sns, config.alarm_topic_arn, notice.subject, notice.message)
        log("notice", subject=notice.subject, message_id=message_id)

    if metering.writes_metrics(decision, observed.desired, observed.running):
        cloudwatch.publish(
            clients.cloudwatch,
            config.metric_namespace,
            now,
            {
                WAKER_AWAKE: 0 if decision.mode == "asleep" else 1,
                WAKER_DESIRED_WORKERS: decision.desired.get(WORKER, 0),
                WAKER_SCALE_CHANGES: len(changes),
            },
        )
    log(
        "decision",
        action=request.kind,
        mode=decision.mode,
        reason=decision.reason,
        changes=changes,
        desired=dict(decision.desired),
        wake_at=decision.wake_at,
        database_action=decision.database_action,
        database_changed=database_changed,
        ui_route=decision.ui_route,
        ui_route_changed=route_changed,
        reporter_stale=decision.reporter_stale,
        refused=decision.refused,
        not_starting={c: list(observed.service_events.get(c, ())) for c in decision.not_starting},
    )
    return report(request.kind, decision, observed, new_state, config.settings)


def handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(
        event,
        config=WakerConfig.from_environment(os.environ),
        clients=Clients.from_boto3(),
        now=datetime.now(UTC),
        function_arn=context.invoked_function_arn,
        holder=context.aws_request_id,
        clock=lambda: datetime.now(UTC),
    )
