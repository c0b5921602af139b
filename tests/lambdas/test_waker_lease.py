"""One waker decides at a time, with no reserved concurrency: the lease in SSM (moto, us-gov-east-1)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from contracts.waker import lease_parameters
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


class _BothReadFirst:
    """An SSM client for one of two racing runs: it lets its run read the lease, then holds it until the other
    run has read it too, so both act on the same expired value (the race the takeover must survive)."""

    def __init__(self, ssm, lease_name: str, barrier: threading.Barrier):
        self._ssm, self._lease, self._barrier, self._waited = ssm, lease_name, barrier, False
        self.exceptions = ssm.exceptions

    def get_parameter(self, **kwargs):
        answer = self._ssm.get_parameter(**kwargs)
        if kwargs["Name"] == self._lease and not self._waited:
            self._waited = True
            self._barrier.wait(timeout=10)
        return answer

    def __getattr__(self, name):
        return getattr(self._ssm, name)


@pytest.mark.parametrize("order", ["a-first", "b-first"])
def test_two_runs_that_find_one_lease_expired_cannot_both_take_it(order):
    """Regression: each run deleted the expired lease and created its own; the slower one deleted the faster
    one's fresh lease, and both went on deciding."""
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-gov-east-1")
        name = "/airflow-dev/waker/lease"
        ssm.put_parameter(Name=name, Value=json.dumps({"holder": "dead", "until": START.isoformat()}), Type="String")
        _ = ssm.exceptions.ParameterAlreadyExists  # built once, before the threads share the client
        barrier = threading.Barrier(2)
        later = START + timedelta(minutes=5)
        won: dict[str, bool] = {}
        delays = {"a": 0.0, "b": 0.05} if order == "a-first" else {"a": 0.05, "b": 0.0}

        def run(holder: str) -> None:
            client = _BothReadFirst(ssm, name, barrier)
            time.sleep(delays[holder])
            won[holder] = lease.acquire(
                client, name, holder, now=lambda: later, ttl=timedelta(seconds=90), wait_seconds=0
            )

        threads = [threading.Thread(target=run, args=(h,)) for h in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(won.values()) == [False, True], won
        winner = next(h for h, took in won.items() if took)
        assert json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])["holder"] == winner
        names = {p["Name"] for p in ssm.describe_parameters()["Parameters"]}
        assert names == {name}, "the takeover's guard is gone once the lease is taken"


def test_a_takeover_waits_for_a_live_guard_and_takes_over_a_dead_one():
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-gov-east-1")
        name = "/airflow-dev/waker/lease"
        expired = json.dumps({"holder": "dead", "until": START.isoformat()})
        ssm.put_parameter(Name=name, Value=expired, Type="String")
        until = START + timedelta(seconds=60)
        guard = json.dumps({"holder": "mid-takeover", "until": until.isoformat()})
        ssm.put_parameter(Name=f"{name}-takeover", Value=guard, Type="String")
        ttl = timedelta(seconds=90)
        taken = lease.acquire(ssm, name, "me", now=lambda: START, ttl=ttl, wait_seconds=0)
        assert not taken, "another run is taking over"
        assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == expired
        # That run died mid-takeover: its guard expires and is taken over in turn.
        assert lease.acquire(ssm, name, "me", now=lambda: until + ttl, ttl=ttl, wait_seconds=0)
        assert json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])["holder"] == "me"
        assert {p["Name"] for p in ssm.describe_parameters()["Parameters"]} == {name}


def test_every_parameter_the_lease_uses_is_one_the_policy_names():
    assert lease_parameters("/airflow-dev/waker/lease") == (
        "/airflow-dev/waker/lease",
        "/airflow-dev/waker/lease-takeover",
        "/airflow-dev/waker/lease-takeover-takeover",
    )
