"""The waker switches the UI between the waking page and Airflow (moto elbv2, us-gov-east-1)."""

from __future__ import annotations

import boto3
import pytest

from tests.support.waker_world import START, minutes, moto_world
from waker.adapters import elbv2 as adapter

TICK = {"action": "tick"}


@pytest.fixture
def world():
    with moto_world(load_balancer=True) as world:
        yield world


def weights(world) -> dict[str, int]:
    elbv2 = boto3.client("elbv2")
    rule = elbv2.describe_rules(RuleArns=[world.config.listener_rule_arn])["Rules"][0]
    forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
    names = {world.config.api_target_group_arn: "airflow", world.config.page_target_group_arn: "page"}
    return {names[g["TargetGroupArn"]]: g["Weight"] for g in forward["ForwardConfig"]["TargetGroups"]}


def test_asleep_the_page_then_airflow_once_healthy_then_the_page_again(world):
    assert world.invoke(TICK, START)["uiRoute"] == "waking-page"
    assert weights(world) == {"airflow": 0, "page": 1}

    # A visit wakes the stack; until the api-server's target is healthy, visitors stay on the page.
    woke = world.invoke({"action": "wake", "holdMinutes": 30, "reason": "UI visit", "source": "visit"}, START)
    assert woke["state"] == "waking" and woke["uiRoute"] == "waking-page"
    assert weights(world) == {"airflow": 0, "page": 1}

    boto3.client("elbv2").register_targets(
        TargetGroupArn=world.config.api_target_group_arn, Targets=[{"Id": "10.40.0.10", "Port": 8080}]
    )
    up = world.invoke(TICK, START + minutes(4))
    assert up["uiRoute"] == "airflow" and weights(world) == {"airflow": 1, "page": 0}

    world.report(START + minutes(50))
    assert world.invoke(TICK, START + minutes(50.5))["uiRoute"] == "airflow", "idle, not yet asleep"
    world.report(START + minutes(66))
    asleep = world.invoke(TICK, START + minutes(66.5))
    assert asleep["state"] == "asleep" and weights(world) == {"airflow": 0, "page": 1}


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
