"""The waking page: ALB requests in, pages out, with the real waker (moto, us-gov-east-1) answering.

Only a person's browser opening a page wakes the stack; the waker's own state counts the day's visit wakes,
so the limit holds across page instances and a burst of visits is one wake; the page says what happened."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.waking_page import handler as page
from lambdas.waking_page.page import WAITING_COOKIE
from lambdas.waking_page.visitors import is_browser_navigation
from standin.waker_world import START, World, moto_world

ENV = {
    "STACK": "airflow-dev",
    "WAKER_FUNCTION": "airflow-dev-waker",
    "VISIT_HOLD_MINUTES": "30",
    "ESTIMATE_MINUTES": "4",
}
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
NAVIGATION = {
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "sec-fetch-mode": "navigate",
    "sec-fetch-dest": "document",
    "sec-fetch-site": "none",
    "sec-fetch-user": "?1",
}
# Programs that woke the stack before (each answers as its own tool does by default), and previewers that
# dress as browsers.
PROGRAMS = {
    "curl": {"user-agent": "curl/8.5.0", "accept": "*/*"},
    "python-requests": {"user-agent": "python-requests/2.32.3", "accept": "*/*"},
    "go": {"user-agent": "Go-http-client/1.1"},
    "skype preview": {**NAVIGATION, "user-agent": f"{CHROME} SkypeUriPreview Preview/0.5"},
    "facebook": {"user-agent": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"},
    "outlook": {"user-agent": f"{CHROME} Microsoft Outlook 16.0", "accept": "text/html"},
    "nessus": {"user-agent": "Mozilla/5.0 (compatible; Nessus)", "accept": "text/html"},
    "qualys": {"user-agent": "Mozilla/5.0 (compatible; Qualys)", "accept": "text/html"},
    "zgrab": {"user-agent": "Mozilla/5.0 zgrab/0.x", "accept": "*/*"},
    "masscan": {"user-agent": "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"},
    "elb": {"user-agent": "ELB-HealthChecker/2.0"},
    "prefetch": {**NAVIGATION, "user-agent": CHROME, "sec-purpose": "prefetch;prerender"},
    "a browser's fetch()": {**NAVIGATION, "user-agent": CHROME, "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"},
    "headless chrome": {**NAVIGATION, "user-agent": CHROME.replace("Chrome/", "HeadlessChrome/")},
}


def browser(path: str = "/dags", agent: str = CHROME, cookie: str = "", multi: bool = False) -> dict:
    headers = {**NAVIGATION, "user-agent": agent, **({"cookie": cookie} if cookie else {})}
    event = {"httpMethod": "GET", "path": path, "body": "", "isBase64Encoded": False}
    if multi:
        return {**event, "multiValueHeaders": {k: [v] for k, v in headers.items()}}
    return {**event, "headers": headers}


@pytest.fixture
def world():
    with moto_world(load_balancer=True, max_visit_wakes_per_day=2) as world:
        yield world


def visit(world: World, event: dict, at=START) -> tuple[dict, list[dict]]:
    asked: list[dict] = []

    def ask(payload: dict) -> dict:
        asked.append(payload)
        return world.invoke(payload, at)

    return page.handle(event, now=at, env=ENV, ask=ask), asked


def visits_counted(world: World) -> int:
    state = world.clients.ssm.get_parameter(Name=world.config.state_parameter)["Parameter"]["Value"]
    return json.loads(state)["visit_wakes"]


def test_a_person_wakes_the_stack_and_is_told_so(world):
    response, asked = visit(world, browser())
    assert [a["action"] for a in asked] == ["wake"] and world.desired()["scheduler"] == 1
    assert response["statusCode"] == 503 and "Your visit woke it at" in response["body"]
    assert response["headers"]["Set-Cookie"].startswith(f"{WAITING_COOKIE}=1;")
    assert "Secure" in response["headers"]["Set-Cookie"] and "HttpOnly" in response["headers"]["Set-Cookie"]


def test_a_waiting_page_reloads_ask_how_the_wake_goes_and_count_for_nothing(world):
    visit(world, browser())
    for seconds in (10, 20, 70):
        at = START + timedelta(seconds=seconds)
        response, asked = visit(world, browser(cookie=f"theme=dark; {WAITING_COOKIE}=1"), at)
        assert [a["action"] for a in asked] == ["status"]
        assert "already waking, since" in response["body"]
    assert f"{70 // 60} min {70 % 60} s so far" in response["body"]
    assert visits_counted(world) == 1


def test_a_burst_of_visitors_is_one_wake_and_leaves_the_days_limit_for_real_visitors(world):
    """Regression: each of 50 concurrent requests was a wake counted against the day's 12."""
    visit(world, browser())
    for n in range(50):
        response, _ = visit(world, browser(agent=FIREFOX), START + timedelta(seconds=n))
        assert "already waking" in response["body"]
    assert visits_counted(world) == 1
    world.invoke({"action": "sleep", "reason": "test", "force": True, "holdMinutes": 0}, START + timedelta(minutes=2))
    response, _ = visit(world, browser(), START + timedelta(minutes=3))
    assert "Your visit woke it" in response["body"], "the second of two allowed wakes is still there"


def test_the_days_limit_is_said_with_how_to_wake_it_anyway(world):
    for n in range(2):
        visit(world, browser(), START + timedelta(minutes=10 * n))
        world.invoke(
            {"action": "sleep", "reason": "t", "force": True, "holdMinutes": 0}, START + timedelta(minutes=10 * n + 1)
        )
    response, _ = visit(world, browser(), START + timedelta(minutes=30))
    assert "wakes by visitors are used up" in response["body"] and "airflow-stack wake --stack dev" in response["body"]
    assert "Set-Cookie" not in response["headers"] and world.desired()["scheduler"] == 0


@pytest.mark.parametrize("held", ["sleep", "maintenance"])
def test_a_stack_asleep_on_purpose_stays_asleep_and_says_why(world, held):
    if held == "sleep":
        world.invoke({"action": "sleep", "reason": "cost freeze", "force": True, "holdMinutes": 120}, START)
    else:
        world.invoke({"action": "maintenance", "on": True, "reason": "re-staging from prod"}, START)
    response, _ = visit(world, browser(), START + timedelta(minutes=1))
    assert "held asleep" in response["body"] and world.desired()["scheduler"] == 0
    assert ("put to sleep until" if held == "sleep" else "re-staging from prod") in response["body"]
    assert visits_counted(world) == 0


def test_a_waker_that_does_not_answer_is_said_and_the_page_asks_again(world):
    response = page.handle(browser(), now=START, env=ENV, ask=lambda payload: None)
    assert "could not be asked to wake just now" in response["body"] and "Set-Cookie" not in response["headers"]
    assert 'http-equiv="refresh"' in response["body"]


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_programs_get_the_page_and_wake_nothing(world, program):
    event = {"httpMethod": "GET", "path": "/dags", "headers": PROGRAMS[program]}
    response, asked = visit(world, event)
    assert response["statusCode"] == 503 and asked == [] and world.desired()["scheduler"] == 0


def test_api_paths_get_json_and_wake_nothing(world):
    response, asked = visit(world, browser("/api/v2/dags"))
    assert response["headers"]["Content-Type"] == "application/json" and int(response["headers"]["Retry-After"]) > 0
    assert json.loads(response["body"])["status"] == "asleep" and asked == []


def test_multi_value_header_requests_get_multi_value_headers_back(world):
    """The ALB answers 502 to a response whose headers are not in the form the target group is set for."""
    response, asked = visit(world, browser(multi=True))
    assert "headers" not in response and asked
    assert response["multiValueHeaders"]["Content-Type"] == ["text/html; charset=utf-8"]
    assert response["multiValueHeaders"]["Set-Cookie"][0].startswith(WAITING_COOKIE)


HEADER_NAMES = st.sampled_from(
    ["user-agent", "accept", "sec-fetch-mode", "sec-fetch-dest", "sec-purpose", "cookie", "x-other"]
)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "OPTIONS", "PUT"]),
    path=st.text(max_size=30).map(lambda p: "/" + p),
    headers=st.dictionaries(HEADER_NAMES, st.text(max_size=80), max_size=7),
)
def test_no_request_without_a_browsers_navigation_marks_wakes_anything(method, path, headers):
    """By construction, not by a list: a request lacking any mark of a browser's navigation asks nothing."""
    asked: list[dict] = []
    event = {"httpMethod": method, "path": path, "headers": headers}
    response = page.handle(event, now=START, env=ENV, ask=asked.append)
    assert response["statusCode"] == 503 and response["body"]
    if asked:
        assert method == "GET" and is_browser_navigation(method, path, {k.lower(): v for k, v in headers.items()})
        assert headers["sec-fetch-mode"].lower() == "navigate" and headers["sec-fetch-dest"].lower() == "document"
        assert "text/html" in headers["accept"].lower() and headers["user-agent"].lower().startswith("mozilla/5.0")
