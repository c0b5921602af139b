"""The waker handler against moto in us-gov-east-1: a full day's story, and each manual action."""

from __future__ import annotations

from typing import Any

import pytest

from standin.waker_world import NAMESPACE, SERVICES, STACK, START, World, minutes, moto_world


@pytest.fixture
def world():
    with moto_world() as world:
        yield world


AWAKE = {**dict.fromkeys(SERVICES, 1), "worker": 0}
ASLEEP = dict.fromkeys(SERVICES, 0)
TICK = {"action": "tick"}


def test_a_full_day(world: World):
    # Overnight: asleep. Yesterday's report said the first DAG is due at 06:00 (START + 6 h).
    due_at_six = START + minutes(360)
    world.report(START - minutes(600), next_due_in=(due_at_six - (START - minutes(600))).total_seconds())
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "yesterday"}, START - minutes(599))
    night = world.invoke({"action": "sleep", "reason": "end of yesterday"}, START - minutes(598))
    assert night["state"] == "asleep" and world.desired() == ASLEEP
    assert night["nextWakeAt"] == (due_at_six - minutes(5)).isoformat()
    assert world.invoke(TICK, START)["state"] == "asleep"

    # A tick at due minus lead wakes everything, with one worker for the first tasks, before the DAG is due.
    t = due_at_six - minutes(5)
    woke = world.invoke(TICK, t)
    assert woke["state"] == "waking" and "due" in woke["reason"]
    assert world.desired() == {**AWAKE, "worker": 1}

    # The scheduler queues the run's tasks: the reporter sees 20 queued task instances; workers follow demand.
    for minute in range(1, 4):
        world.report(t + minutes(minute), dag_runs_running=2, **{"ti:queued": 20})
        world.invoke(TICK, t + minutes(minute + 0.5))
    assert world.desired()["worker"] == 3  # ceil(20 / 8)
    # The wake is measured: the reporter published and the worker ran by the first tick after the wake.
    lead = world.invoke({"action": "status"}, t + minutes(4))["lead"]
    assert lead == {
        "servicesMinutes": 5,  # the configured lead until three wakes are measured
        "measuredWakeMinutes": [1.5],
        "databaseMinutes": None,
        "measuredDatabaseStartMinutes": [],
    }

    # Work done; the next DAG is due in two hours.
    t += minutes(10)
    world.report(t, next_due_in=7200)
    idle = world.invoke(TICK, t + minutes(0.5))
    assert idle["state"] == "awake" and "idle since" in idle["reason"]
    assert world.desired() == AWAKE, "workers go once no task runs"

    # Still idle after the idle minutes: to sleep, with the one-time wake written for due minus lead.
    due = t + minutes(120)
    t += minutes(16)
    world.report(t, next_due_in=7200 - 16 * 60)
    slept = world.invoke(TICK, t + minutes(0.5))
    assert slept["state"] == "asleep" and "going to sleep" in slept["reason"]
    assert world.desired() == ASLEEP
    wake_at = due - minutes(5)
    assert slept["nextWakeAt"] == wake_at.isoformat()
    assert world.one_time_wake() == f"at({wake_at.strftime('%Y-%m-%dT%H:%M:%S')})"

    # Asleep and still, the minute tick is switched off: the one-time wake and the hourly watch remain.
    assert world.minute_tick() == "ENABLED", "still on for the tick that follows the services down"
    assert world.invoke(TICK, t + minutes(1.5))["state"] == "asleep"
    assert world.minute_tick() == "DISABLED"
    # Ticks while asleep (the hourly watch) change nothing (and do not rewrite the schedule).
    assert world.invoke(TICK, t + minutes(30))["state"] == "asleep" and world.desired() == ASLEEP
    assert world.minute_tick() == "DISABLED"

    # The one-time wake fires at due minus lead: everything comes up before the DAG is due.
    scheduled = world.invoke(
        {"action": "wake", "holdMinutes": 0, "reason": "next DAG due", "source": "schedule"}, wake_at
    )
    assert scheduled["state"] == "waking" and world.desired() == {**AWAKE, "worker": 1}
    assert world.one_time_wake() is None, "the one-time wake is removed once awake"
    assert world.minute_tick() == "ENABLED", "awake, the waker ticks every minute again"


def test_messages_on_the_broker_wake_a_sleeping_cluster_with_workers(world: World):
    world.clients.sqs.send_message(QueueUrl=world.queue_url, MessageBody="task")
    woke = world.invoke(TICK, START)
    assert woke["state"] == "waking" and "queued" in woke["reason"]
    assert world.desired() == {**AWAKE, "worker": 1}


def test_manual_wake_holds_and_status_changes_nothing(world: World):
    woke = world.invoke({"action": "wake", "holdMinutes": 120, "reason": "demo for the team"}, START)
    assert woke["ok"] and woke["state"] == "waking" and world.desired() == AWAKE
    assert woke["holdUntil"] == (START + minutes(120)).isoformat()

    # Idle but held: stays up while the hold lasts.
    world.report(START + minutes(30))
    held = world.invoke(TICK, START + minutes(30.5))
    assert held["state"] == "awake" and "held awake" in held["reason"]

    before = world.clients.ssm.get_parameter(Name=f"/{STACK}/waker/state")["Parameter"]["Value"]
    status = world.invoke({"action": "status"}, START + minutes(31))
    assert status["state"] == "awake" and status["current"]["desired"] == AWAKE
    assert status["signals"]["reporter"]["dagRunsQueued"] == 0
    assert world.clients.ssm.get_parameter(Name=f"/{STACK}/waker/state")["Parameter"]["Value"] == before


def test_manual_sleep_is_refused_while_work_runs_unless_forced(world: World):
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "run a backfill"}, START)
    world.report(START + minutes(20), dag_runs_running=1, **{"ti:running": 2})
    refused = world.invoke({"action": "sleep", "reason": "save money"}, START + minutes(20.5))
    assert refused["ok"] is False and "refused" in refused["reason"] and world.desired() == AWAKE

    world.clients.sqs.send_message(QueueUrl=world.queue_url, MessageBody="queued task")
    forced = world.invoke(
        {"action": "sleep", "reason": "incident", "force": True, "holdMinutes": 60}, START + minutes(21)
    )
    assert forced["ok"] and forced["state"] == "asleep" and world.desired() == ASLEEP
    attributes = world.clients.sqs.get_queue_attributes(
        QueueUrl=world.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1", "queued work is kept"
    assert world.invoke(TICK, START + minutes(30))["state"] == "asleep", "and does not wake it during the hold"


@pytest.mark.parametrize("event", [{"action": "wake", "holdMinutes": "all day"}, {"action": "explode"}, []])
def test_a_malformed_event_is_rejected_and_changes_nothing(world: World, event):
    answer = world.invoke(event, START)
    assert answer["ok"] is False and answer["error"]
    assert world.desired() == ASLEEP
    with pytest.raises(world.clients.ssm.exceptions.ParameterNotFound):
        world.clients.ssm.get_parameter(Name=f"/{STACK}/waker/state")


def test_every_decision_is_published_as_metrics(world: World):
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "x"}, START)
    result = world.clients.cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "awake",
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": "WakerAwake"},
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=START - minutes(5),
        EndTime=START + minutes(5),
    )
    assert result["MetricDataResults"][0]["Values"] == [1.0]


def test_the_database_sleeps_with_the_cluster_and_is_up_again_before_the_next_wake():
    with moto_world(
        database=True, stop_database=True, database_start_minutes=15, database_stop_after_minutes=120
    ) as world:
        rds = world.clients.rds

        def status() -> str:
            return rds.describe_db_instances(DBInstanceIdentifier=STACK)["DBInstances"][0]["DBInstanceStatus"]

        # Asleep with the next DAG due in five hours: the database is stopped too.
        world.report(START - minutes(30), next_due_in=5 * 3600 + 1800)
        world.invoke({"action": "wake", "holdMinutes": 0, "reason": "seed"}, START - minutes(29))
        world.invoke({"action": "sleep", "reason": "night"}, START - minutes(28))
        asleep = world.invoke(TICK, START)
        assert status() == "stopped", asleep["reason"]
        # The one-time wake moves earlier by the database's start time.
        due = START - minutes(30) + minutes(5 * 60 + 30)
        assert asleep["nextWakeAt"] == (due - minutes(5 + 15)).isoformat()

        # At that wake the database is started first; the services follow once it is available
        # (the one-time wake the waker wrote: source schedule)
        waking = world.invoke(
            {"action": "wake", "holdMinutes": 0, "reason": "next DAG due", "source": "schedule"}, due - minutes(20)
        )
        assert waking["state"] == "waking" and "database first" in waking["reason"]
        assert world.desired() == ASLEEP and status() == "available"  # moto starts it at once
        # (at the usual lead before the DAG is due), and the database is not stopped again meanwhile.
        early = world.invoke(TICK, due - minutes(19))
        assert early["state"] == "asleep" and status() == "available" and world.desired() == ASLEEP
        up = world.invoke(TICK, due - minutes(5))
        assert up["state"] == "waking" and world.desired() == {**AWAKE, "worker": 1}


def test_asleep_and_still_the_waker_reads_and_writes_no_metric(world: World, request: pytest.FixtureRequest):
    # CloudWatch bills metric reads per metric requested, writes per request, and custom metrics by the
    # hours they receive data (https://aws.amazon.com/cloudwatch/pricing/): a sleeping stack pays for none.
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events = world.clients.cloudwatch.meta.events
    events.register("before-call.cloudwatch.*", count)
    request.addfinalizer(lambda: events.unregister("before-call.cloudwatch.*", count))  # the client is shared
    world.report(START, dag_runs_running=1)
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "work"}, START)
    awake = world.invoke(TICK, START + minutes(1))
    assert awake["state"] != "asleep" and {"GetMetricData", "PutMetricData"} <= set(calls)
    world.invoke({"action": "sleep", "reason": "done", "force": True}, START + minutes(2))
    assert calls[-1] == "PutMetricData", "the tick that puts it to sleep publishes the change"
    calls.clear()
    for minute in range(3, 63):
        assert world.invoke(TICK, START + minutes(minute))["state"] == "asleep"
    assert calls == [], f"an hour asleep made {len(calls)} CloudWatch calls: {sorted(set(calls))}"
    # Work arriving on the broker still wakes it: the queues are read without CloudWatch.
    world.clients.sqs.send_message(QueueUrl=world.queue_url, MessageBody="{}")
    assert world.invoke(TICK, START + minutes(64))["state"] == "waking"


def test_a_silent_reporter_is_told_once_and_its_end_once(world: World):
    """The waker sends its own notice to the alarm topic (SNS Publish) when Airflow is awake past the boot
    grace but its activity reporter is silent: once when it starts, once when it ends, not every tick."""
    world.invoke({"action": "wake", "holdMinutes": 60, "reason": "tests"}, START)
    for minute in range(1, 10):  # booting: a silent reporter is expected
        world.invoke(TICK, START + minutes(minute))
    assert world.notices() == []
    for minute in range(11, 16):
        world.invoke(TICK, START + minutes(minute))
    assert world.notices() == [f"{STACK}: reporter-stale"], "told once, not every minute"
    world.report(START + minutes(16), next_due_in=3600)
    world.invoke(TICK, START + minutes(16.5))
    world.invoke(TICK, START + minutes(17.5))
    assert world.notices() == [f"{STACK}: resolved: reporter-stale"]
