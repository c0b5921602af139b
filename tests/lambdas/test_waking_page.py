"""The waking page: ALB requests in, HTML or JSON out, one wake request per burst of visits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from contracts.waker import Wake, parse_event
from lambdas.waking_page import handler as page

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
ENV = {
    "STACK": "airflow-prod",
    "WAKER_FUNCTION": "airflow-prod-waker",
    "VISIT_HOLD_MINUTES": "30",
    "ESTIMATE_MINUTES": "4",
}


def alb_event(path: str = "/", agent: str = "Mozilla/5.0", method: str = "GET") -> dict:
    return {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws-us-gov:elasticloadbalancing:..."}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {"user-agent": agent},
        "body": "",
        "isBase64Encoded": False,
    }


@pytest.fixture(autouse=True)
def fresh_instance():
    page._last_wake.clear()


def call(event: dict, at: datetime, sent: list) -> dict:
    return page.handle(event, now=at, env=ENV, invoke=sent.append)


def test_a_visitor_gets_the_waking_page_and_the_stack_is_asked_to_wake(tmp_path):
    sent: list[dict] = []
    response = call(alb_event("/dags/orders_ingest/grid"), NOW, sent)
    assert response["statusCode"] == 503 and response["statusDescription"] == "503 Service Unavailable"
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert response["headers"]["Cache-Control"] == "no-store"
    body = response["body"]
    assert "Airflow is waking" in body and 'http-equiv="refresh"' in body and "airflow-prod" in body
    assert "about 4 minutes" in body
    # What the page sends is a wake request the waker accepts, marked as a visit.
    assert len(sent) == 1
    assert parse_event(sent[0], default_hold_minutes=60) == Wake(30, "UI visit", "visit")


def test_a_burst_of_visits_is_one_wake_request():
    sent: list[dict] = []
    for second in range(0, 60, 3):
        call(alb_event(), NOW + timedelta(seconds=second), sent)
    assert len(sent) == 1
    later = call(alb_event(), NOW + timedelta(seconds=75), sent)
    assert len(sent) == 2
    assert "1 min 15 s" not in later["body"], "progress counts from the latest wake request"


def test_progress_and_estimate_show_on_reload():
    sent: list[dict] = []
    call(alb_event(), NOW, sent)
    reload = call(alb_event(), NOW + timedelta(seconds=50), sent)
    assert "0 min 50 s so far" in reload["body"] and 'aria-valuenow="20"' in reload["body"]


def test_api_clients_get_json_with_retry_after():
    sent: list[dict] = []
    response = call(alb_event("/api/v2/dags"), NOW, sent)
    assert response["statusCode"] == 503
    assert response["headers"]["Content-Type"] == "application/json"
    assert int(response["headers"]["Retry-After"]) > 0
    assert json.loads(response["body"])["status"] == "waking"
    assert len(sent) == 1, "an API call to a sleeping stack wakes it too"


@pytest.mark.parametrize("agent", ["ELB-HealthChecker/2.0", "Googlebot/2.1", "UptimeRobot/2.0"])
def test_checkers_and_crawlers_get_the_page_but_wake_nothing(agent):
    sent: list[dict] = []
    response = call(alb_event(agent=agent), NOW, sent)
    assert response["statusCode"] == 503 and sent == []


def test_head_requests_do_not_wake():
    sent: list[dict] = []
    call(alb_event(method="HEAD"), NOW, sent)
    assert sent == []
