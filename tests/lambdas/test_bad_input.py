"""Bad input to the Lambdas gets one clear answer and changes nothing (moto, us-gov-east-1).

The waker answers `{"ok": false, "error": "<the field and what it allows>"}`; the waking page answers its
page (a malformed request is a plain visit of /); neither raises, and no count, state or schedule moves.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lambdas.waking_page import handler as waking_page
from standin.waker_world import START, moto_world

BAD_EVENTS = [
    # (event, words the one-line error must contain)
    (None, "JSON object"),
    ([], "JSON object"),
    ("wake", "JSON object"),
    (42, "JSON object"),
    ({}, "action must be one of"),
    ({"action": None}, "action must be one of"),
    ({"action": ["wake"]}, "action must be one of"),
    ({"action": {"wake": True}}, "action must be one of"),
    ({"action": "WAKE"}, "action must be one of"),
    ({"action": "reboot"}, "tick, wake, sleep, status"),
    ({"action": "wake", "holdMinutes": -5}, "holdMinutes"),
    ({"action": "wake", "holdMinutes": 100000}, "0 to 1440"),
    ({"action": "wake", "holdMinutes": "2h"}, "whole number of minutes"),
    ({"action": "wake", "holdMinutes": True}, "holdMinutes"),
    ({"action": "wake", "holdMinutes": 1.5}, "holdMinutes"),
    ({"action": "wake", "reason": ""}, "reason"),
    ({"action": "wake", "reason": "x" * 201}, "1-200 characters"),
    ({"action": "wake", "source": "crawler"}, "source must be request, visit, schedule or change"),
    ({"action": "sleep", "force": "yes"}, "force must be true or false"),
    ({"action": "tick", "holdMinutes": 5}, "unknown: holdMinutes"),
    ({"action": "status", "verbose": True}, "unknown: verbose"),
    ({"action": "maintenance"}, "on: true or false"),
    ({"action": "maintenance", "on": "off"}, "on: true or false"),
    ({"action": "deploy", "holdMinutes": -1}, "holdMinutes"),
]


@pytest.fixture(scope="module")
def world():
    with moto_world(database=True, stop_database=True) as world:
        yield world


def snapshot(world) -> dict:
    state = (
        world.clients.ssm.get_parameter(Name=world.config.state_parameter)["Parameter"]["Value"]
        if _has_state(world)
        else None
    )
    return {"desired": world.desired(), "state": state, "wake": world.one_time_wake()}


def _has_state(world) -> bool:
    try:
        world.clients.ssm.get_parameter(Name=world.config.state_parameter)
        return True
    except world.clients.ssm.exceptions.ParameterNotFound:
        return False


def test_there_are_at_least_twenty_bad_events():
    assert len(BAD_EVENTS) >= 20


@pytest.mark.parametrize(("event", "words"), BAD_EVENTS, ids=[json.dumps(e)[:40] for e, _ in BAD_EVENTS])
def test_a_bad_event_gets_one_clear_line_and_changes_nothing(world, event, words):
    before = snapshot(world)
    answer = world.invoke(event, START)
    assert answer["ok"] is False and words in answer["error"], answer
    assert "\n" not in answer["error"] and "Traceback" not in answer["error"]
    assert snapshot(world) == before


BAD_REQUESTS = [
    None,
    [],
    "GET /",
    {},
    {"path": None, "httpMethod": None},
    {"path": 7, "headers": "user-agent: x"},
    {"path": "/home", "headers": ["user-agent", "firefox"]},
    {"path": "/home", "headers": None, "multiValueHeaders": {"User-Agent": ["Firefox"], "Accept": []}},
    {"path": "relative/path", "httpMethod": "GET"},
    {"path": "/api/v2/dags", "httpMethod": {"GET": 1}, "headers": {"user-agent": None}},
    {"path": "/", "httpMethod": "OPTIONS", "headers": {"User-Agent": ["ELB-HealthChecker/2.0"]}},
]


@pytest.mark.parametrize("request_", BAD_REQUESTS, ids=[str(i) for i in range(len(BAD_REQUESTS))])
def test_the_waking_page_answers_any_request_with_a_page(request_):
    asked: list[dict] = []
    answer = waking_page.handle(
        request_, now=datetime.now(UTC), env={"STACK": "airflow-dev", "ESTIMATE_MINUTES": "4"}, ask=asked.append
    )
    headers = answer.get("headers") or {k: v[0] for k, v in answer["multiValueHeaders"].items()}
    assert answer["statusCode"] == 503 and headers["Retry-After"]
    assert answer["body"], "a page (or a JSON answer for API paths), never an exception"
    assert asked == [], "none of these is a person's browser opening a page: the waker is not asked"
