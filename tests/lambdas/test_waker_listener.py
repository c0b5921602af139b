"""The waker switches the UI between the waking page and Airflow (moto elbv2, us-gov-east-1).

It switches the waking page's rule by its conditions only; the rule's actions (OIDC, then the page) are
never sent, so the authentication in front of the UI cannot be dropped or altered by the waker.
"""

from __future__ import annotations

import boto3
import pytest

from lambdas.waker.adapters import elbv2 as adapter
from standin.waker_world import START, minutes, moto_world

TICK = {"action": "tick"}


@pytest.fixture
def world():
    with moto_world(load_balancer=True) as world:
        yield world


def rule(world) -> dict:
    return boto3.client("elbv2").describe_rules(RuleArns=[world.config.listener_rule_arn])["Rules"][0]


def catches_visitors(world) -> bool:
    return any(c["Field"] == "path-pattern" for c in rule(world)["Conditions"])


def test_asleep_the_page_then_airflow_once_healthy_then_the_page_again(world):
    actions = rule(world)["Actions"]
    assert world.invoke(TICK, START)["uiRoute"] == "waking-page"
    assert catches_visitors(world)

    # A visit wakes the stack; until the api-server's target is healthy, visitors stay on the page.
    woke = world.invoke({"action": "wake", "holdMinutes": 30, "reason": "UI visit", "source": "visit"}, START)
    assert woke["state"] == "waking" and woke["uiRoute"] == "waking-page"
    assert catches_visitors(world)

    boto3.client("elbv2").register_targets(
        TargetGroupArn=world.config.api_target_group_arn, Targets=[{"Id": "10.40.0.10", "Port": 8080}]
    )
    up = world.invoke(TICK, START + minutes(4))
    assert up["uiRoute"] == "airflow" and not catches_visitors(world)
    assert rule(world)["Actions"] == actions, "the authentication and the page's target are untouched"

    world.report(START + minutes(50))
    assert world.invoke(TICK, START + minutes(50.5))["uiRoute"] == "airflow", "idle, not yet asleep"
    world.report(START + minutes(66))
    asleep = world.invoke(TICK, START + minutes(66.5))
    assert asleep["state"] == "asleep" and catches_visitors(world)
    assert rule(world)["Actions"] == actions


def test_repeated_ticks_leave_the_rule_alone(world, monkeypatch):
    calls = []
    original = adapter.route_to
    monkeypatch.setattr(adapter, "route_to", lambda *a, **k: calls.append(k["route"]) or original(*a, **k))
    for minute in range(5):
        world.invoke(TICK, START + minutes(minute))
    assert calls == [], "the rule already sends visitors to the page: nothing to change"
    world.invoke({"action": "wake", "holdMinutes": 30, "reason": "demo"}, START + minutes(5))
    boto3.client("elbv2").register_targets(
        TargetGroupArn=world.config.api_target_group_arn, Targets=[{"Id": "10.40.0.10", "Port": 8080}]
    )
    for minute in range(6, 10):
        world.invoke(TICK, START + minutes(minute))
    assert calls == ["airflow"], "switched once, when the api-server became healthy"
