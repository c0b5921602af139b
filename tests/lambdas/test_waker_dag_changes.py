"""A DAG upload wakes the stack once, however many files (moto, us-gov-east-1).

S3 sends one event per object to EventBridge (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
EventBridge.html), and the rule invokes the waker once per event. The first change of a burst claims it and
decides; the rest answer at once, without the lease or any other call."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from contracts.waker import Wake, dag_change_parameter, to_event
from lambdas.waker.adapters import lease
from standin.waker_world import START, World, moto_world

CHANGE = to_event(Wake(hold_minutes=10, reason="DAG bundle changed", source="change"))


def decisions(caplog) -> int:
    return sum('"event": "decision"' in record.getMessage() for record in caplog.records)


@pytest.fixture
def world():
    with moto_world() as world:
        yield world


def test_five_hundred_files_are_one_decision(world: World, caplog):
    answers = [world.invoke(CHANGE, START + timedelta(seconds=n / 10)) for n in range(500)]
    assert answers[0]["state"] == "waking" and answers[0]["holdUntil"]
    assert all(a == {"ok": True, "coalesced": True, "reason": answers[1]["reason"]} for a in answers[1:])
    assert decisions(caplog) == 1
    # The next upload, past the window, wakes (or holds) it again.
    again = world.invoke(CHANGE, START + timedelta(minutes=5))
    assert again["ok"] and "coalesced" not in again and decisions(caplog) == 2


def test_a_claimant_that_cannot_act_lets_the_next_change_act(world: World, caplog):
    ssm = boto3.client("ssm")
    lease.acquire(
        ssm, world.config.lease_parameter, "other", now=lambda: START, ttl=timedelta(seconds=90), wait_seconds=0
    )
    first = world.invoke(CHANGE, START, lease_wait_seconds=0)
    assert first["busy"], "another run holds the lease"
    lease.release(ssm, world.config.lease_parameter, "other")
    second = world.invoke(CHANGE, START + timedelta(seconds=2))
    assert second["ok"] and second["state"] == "waking", "the withdrawn claim let it act"


@pytest.mark.parametrize("stored", ["not a time", "2026-01-01T00:00:00", "2099-01-01T00:00:00+00:00"])
def test_a_marker_no_run_could_have_left_is_replaced(world: World, stored):
    boto3.client("ssm").put_parameter(Name=dag_change_parameter(world.stack), Value=stored, Type="String")
    answer = world.invoke(CHANGE, START)
    assert answer["ok"] and answer["state"] == "waking"


def test_the_programs_rule_sends_the_change_wake(recordings):
    target = recordings["dev"].one("aws:cloudwatch/eventTarget:EventTarget", "waker-dag-change")
    assert json.loads(target.inputs["input"]) == CHANGE
