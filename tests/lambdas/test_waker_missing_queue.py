"""A watched event queue deleted by its owner is counted as empty and reported once, never raised.

Regression: `QueueDoesNotExist` from a watched queue made every run fail, `status` included.
"""

from __future__ import annotations

import dataclasses

import boto3

from standin.waker_world import START, minutes, moto_world


def test_a_deleted_event_queue_is_reported_once_and_every_run_answers():
    with moto_world() as world:
        sqs = boto3.client("sqs")
        kept = sqs.create_queue(QueueName="orders-events")["QueueUrl"]
        gone = sqs.create_queue(QueueName="partner-events")["QueueUrl"]
        world.config = dataclasses.replace(world.config, event_queue_urls=(kept, gone))
        sqs.delete_queue(QueueUrl=gone)
        for minute, event in enumerate([{"action": "status"}, {"action": "tick"}, {"action": "tick"}]):
            assert world.invoke(event, START + minutes(minute))["ok"], event
        assert world.notices() == ["airflow-dev: event-queue-missing:partner-events"]
        # The queue that exists still wakes the stack.
        sqs.send_message(QueueUrl=kept, MessageBody="{}")
        answer = world.invoke({"action": "tick"}, START + minutes(3))
        assert answer["ok"] and world.desired()["scheduler"] == 1, answer
