"""Stale broker messages are not work (moto, us-gov-east-1).

A task that waits past Airflow's `task_queued_timeout` is failed by the scheduler, but Celery cannot revoke its
message on SQS (kombu's SQS transport has no broadcast,
https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.SQS.html), so the message stays
visible for the queue's retention. SQS stamps each message with `SentTimestamp` when it receives it
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html); the waker
parks the ones older than the timeout, while a fresh reporter sees no queued task, on the broker's
dead-letter queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from standin.waker_world import World, minutes, moto_world

TICK = {"action": "tick"}


@pytest.fixture
def world():
    with moto_world(scheduled_grace_minutes=1) as world:
        yield world


@pytest.fixture
def start() -> datetime:
    """The runs' clock near the real one: SQS (and moto) keeps a received message hidden at most 12 hours
    after it was sent, which putting a younger message back must respect."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def parking_url(world: World) -> str:
    return world.config.broker_parking_queue_url


def depth(world: World, url: str) -> int:
    attributes = world.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_messages_of_tasks_airflow_failed_are_parked_and_the_stack_sleeps_and_stays_asleep(
    world: World, start: datetime
):
    """Regression: the waker counted them as queued work, and kept dev awake around the clock."""
    timeout = minutes(world.config.settings.task_queued_timeout_seconds / 60)
    # Tasks queued, no worker placed, failed by Airflow.
    world.send_broker_messages(start - timeout - minutes(5), count=3)
    assert world.invoke(TICK, start)["state"] == "waking", "messages wake an asleep stack (no reporter to ask)"
    world.report(start + minutes(1), dag_runs_running=0)  # the reporter: nothing queued, nothing running
    answer = world.invoke(TICK, start + minutes(1.5))
    assert depth(world, world.queue_url) == 0 and depth(world, parking_url(world)) == 3
    assert world.notices() == ["airflow-dev: parked 3 stale broker message(s)"]
    world.report(start + minutes(3))
    asleep = world.invoke(TICK, start + minutes(3.5))
    assert asleep["state"] == "asleep", (answer, asleep)
    for minute in (5, 30, 120):
        assert world.invoke(TICK, start + minutes(minute))["state"] == "asleep", "parked messages cannot come back"

    # A new message still wakes it at once.
    world.send_broker_messages(start + minutes(121))
    assert world.invoke(TICK, start + minutes(121.5))["state"] == "waking"


def test_a_young_message_is_work_though_the_reporter_has_not_seen_its_task_yet(world: World, start: datetime):
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "test"}, start)
    world.send_broker_messages(start + minutes(1))  # queued after the reporter published
    world.report(start + minutes(0.5))
    answer = world.invoke(TICK, start + minutes(1.5))
    assert answer["state"] == "awake" and "1 item(s) of work active or queued" in answer["reason"]
    assert depth(world, world.queue_url) == 1 and depth(world, parking_url(world)) == 0, "kept, visible again"


@pytest.mark.parametrize("reporter", ["queued", "silent"])
def test_old_messages_are_kept_while_airflow_has_queued_tasks_or_cannot_tell(world: World, start: datetime, reporter):
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "test"}, start)
    world.send_broker_messages(start - minutes(600), count=2)
    if reporter == "queued":
        world.report(start + minutes(1), **{"ti:queued": 2})
    answer = world.invoke(TICK, start + minutes(1.5))
    assert answer["state"] == "awake"
    assert depth(world, world.queue_url) == 2 and depth(world, parking_url(world)) == 0


def test_a_parking_queue_that_is_gone_is_logged_and_the_messages_stay_work(world: World, start: datetime, caplog):
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "test"}, start)
    world.send_broker_messages(start - minutes(120))
    world.clients.sqs.delete_queue(QueueUrl=parking_url(world))
    world.report(start + minutes(1))
    answer = world.invoke(TICK, start + minutes(1.5))
    assert answer["ok"] and answer["state"] == "awake", "the run still decides"
    assert depth(world, world.queue_url) == 1, "nothing lost: the message is back on the broker"
    assert any('"event": "broker-parking-failed"' in record.getMessage() for record in caplog.records)


def test_with_a_short_timeout_a_message_sent_near_the_report_is_kept(start: datetime):
    """A stack whose timeout is shorter than the reporter's lag (the rehearsal's 60 s): a message past the
    timeout, but sent less than a minute before the report, may be a task the report could not see yet."""
    with moto_world(scheduled_grace_minutes=1, task_queued_timeout_seconds=60) as world:
        assert world.config.settings.task_queued_timeout_seconds == 60
        world.invoke({"action": "wake", "holdMinutes": 0, "reason": "test"}, start)
        world.send_broker_messages(start + minutes(1))
        world.send_broker_messages(start - minutes(5))
        world.report(start + minutes(1.5))  # sees nothing queued: the first message's task is not yet in it
        world.invoke(TICK, start + minutes(3))  # both past the 60 s timeout; only the old one is stale
        assert depth(world, world.queue_url) == 1 and depth(world, parking_url(world)) == 1
