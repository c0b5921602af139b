"""One waker decides at a time, with no reserved concurrency: the lease in SSM (moto, us-gov-east-1)."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from lambdas.waker.adapters import lease
from standin.waker_world import START, minutes, moto_world

TICK = {"action": "tick"}


def test_a_run_that_finds_the_lease_taken_changes_nothing_and_says_so():
    with moto_world() as world:
        ssm = boto3.client("ssm")
        assert lease.acquire(
            ssm, world.config.lease_parameter, "other-run", now=lambda: START, ttl=timedelta(seconds=90), wait_seconds=0
        )
        answer = world.invoke(
            {"action": "wake", "holdMinutes": 30, "reason": "test"}, START + timedelta(seconds=10), lease_wait_seconds=1
        )
        assert answer["ok"] is False and answer["busy"] is True
        assert set(world.desired().values()) == {0}, "the refused run changed nothing"

        # A status request takes no lease and still answers.
        assert world.invoke({"action": "status"}, START)["state"] == "asleep"

        lease.release(ssm, world.config.lease_parameter, "other-run")
        woke = world.invoke({"action": "wake", "holdMinutes": 30, "reason": "test"}, START + minutes(1))
        assert woke["ok"] and woke["state"] == "waking"
        names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
        assert world.config.lease_parameter not in names, "released when the run ends"


def test_a_lease_left_by_a_run_that_died_expires():
    with moto_world() as world:
        ssm = boto3.client("ssm")
        lease.acquire(
            ssm, world.config.lease_parameter, "dead-run", now=lambda: START, ttl=timedelta(seconds=90), wait_seconds=0
        )
        after = START + timedelta(seconds=91)
        assert world.invoke(TICK, after)["ok"], "the expired lease is taken over"


def test_release_leaves_another_holders_lease_alone():
    with moto_world() as world:
        ssm = boto3.client("ssm")
        lease.acquire(
            ssm, world.config.lease_parameter, "holder-a", now=lambda: START, ttl=timedelta(seconds=90), wait_seconds=0
        )
        lease.release(ssm, world.config.lease_parameter, "holder-b")
        assert ssm.get_parameter(Name=world.config.lease_parameter)["Parameter"]["Value"].count("holder-a") == 1


@pytest.mark.parametrize(
    "stored",
    [
        '{"holder": "clock-gone-wrong", "until": "2099-01-01T00:00:00+00:00"}',  # was: every run busy forever
        '{"holder": "no-zone", "until": "2026-01-01T00:00:00"}',  # was: TypeError comparing times
        "not json",
        '{"holder": "no-expiry"}',
    ],
)
def test_a_lease_no_run_could_have_left_does_not_wedge_the_waker(stored):
    with moto_world() as world:
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name=world.config.lease_parameter, Value=stored, Type="String")
        answer = world.invoke({"action": "wake", "holdMinutes": 30, "reason": "a person"}, START, lease_wait_seconds=1)
        assert answer["ok"] and answer["state"] == "waking", answer
