"""The waking page: the ALB sends visitors here while the stack sleeps (the waker switches the listener).

A person's browser opening a page of the UI (visitors.py) asks the waker to wake, and waits for its answer,
which the page then tells truthfully (page.py): the waker counts visit wakes in its own state, so its daily
limit holds however many instances of this function run, and a visit to a stack already up or waking counts
for nothing. A page showing a waking stack sets a cookie: its reloads ask the waker's status, not for a new
wake. Programs (API clients, previewers, scanners, checks) get the page, or a 503 on API paths, and wake
nothing. Environment: STACK, WAKER_FUNCTION, VISIT_HOLD_MINUTES, ESTIMATE_MINUTES.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contracts.waker import WAKER_FUNCTION_VARIABLE, Status, Wake, to_event

from .page import WAITING_COOKIE, Situation, api_response, page_response
from .visitors import is_api, is_browser_navigation

logger = logging.getLogger("waking_page")
logger.setLevel(logging.INFO)

Ask = Callable[[dict[str, Any]], "dict[str, Any] | None"]  # the waker's answer, None if it could not be asked


def normalized(event: Any) -> dict[str, Any]:
    """The parts of an ALB request the page reads, whatever arrives: a malformed event is a plain GET of /.
    Headers may come as a map or, with multi-value headers on, as lists; names are case-insensitive."""
    event = event if isinstance(event, dict) else {}
    multi = not isinstance(event.get("headers"), dict) and isinstance(event.get("multiValueHeaders"), dict)
    raw = event.get("multiValueHeaders") if multi else event.get("headers")
    headers: dict[str, str] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            if isinstance(value, list):
                value = value[0] if value else ""
            headers[str(name).lower()] = str(value)
    path = event.get("path")
    method = event.get("httpMethod")
    return {
        "path": path if isinstance(path, str) and path.startswith("/") else "/",
        "httpMethod": method if isinstance(method, str) else "GET",
        "headers": headers,
        "multi": multi,
    }


def _waiting(headers: dict[str, str]) -> bool:
    cookies = (c.strip().split("=", 1)[0] for c in headers.get("cookie", "").split(";"))
    return WAITING_COOKIE in cookies


def _at(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def situation(answer: dict[str, Any] | None, now: datetime) -> Situation:
    """What the waker's answer to a visit (or, for a waiting page, to a status request) means for the visitor."""
    if answer is None:
        return Situation("unknown", detail="the waker did not answer")
    if answer.get("busy"):
        return Situation("unknown", detail="another request is being decided")
    since = _at(answer.get("awakeSince"))
    visit = answer.get("visit")
    if visit == "woke":
        return Situation("woke", since=since or now)
    if visit == "already" or (visit is None and answer.get("state") in ("waking", "awake")):
        return Situation("waking", since=since)
    if visit == "held":
        return Situation("held", detail=str(answer.get("reason") or "held asleep"))
    if visit == "limit":
        return Situation("limit", limit=int(answer.get("visitWakeLimit") or 0))
    return Situation("unknown", detail=str(answer.get("error") or answer.get("reason") or "no answer"))


def handle(request: Any, *, now: datetime, env: dict[str, str], ask: Ask) -> dict[str, Any]:
    request = normalized(request)
    path, headers = request["path"], request["headers"]
    stack, estimate = env.get("STACK", "airflow"), int(env.get("ESTIMATE_MINUTES", "4"))
    if is_api(path):
        response = api_response(stack)
    elif not is_browser_navigation(request["httpMethod"], path, headers):
        response = page_response(Situation("asleep"), now, estimate, stack)
    else:
        found = None
        if _waiting(headers):  # a reload of a waiting page: how the wake goes, not a new visit
            found = situation(ask(to_event(Status())), now)
            found = found if found.waking else None
        if found is None:
            hold = int(env.get("VISIT_HOLD_MINUTES", "30"))
            found = situation(ask(to_event(Wake(hold_minutes=hold, reason="UI visit", source="visit"))), now)
        logger.info(json.dumps({"event": "visit", "path": path, "situation": found.kind}))
        response = page_response(found, now, estimate, stack)
    if request["multi"]:  # answered in the form asked: the ALB rejects `headers` when multi-value is on
        response["multiValueHeaders"] = {k: [v] for k, v in response.pop("headers").items()}
    return response


def handler(event: Any, context: Any) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "lambda", config=Config(connect_timeout=3, read_timeout=20, retries={"max_attempts": 1, "mode": "standard"})
    )
    function = os.environ[WAKER_FUNCTION_VARIABLE]

    def ask(payload: dict[str, Any]) -> dict[str, Any] | None:
        # Waited for: what the page says is what the waker did (a visit that is the first waits for the
        # waker's run, a few seconds).
        try:
            response = client.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
            answer = json.loads(response["Payload"].read() or b"null")
        except Exception as error:  # the visitor still gets a page that says so
            logger.info(json.dumps({"event": "waker-unreachable", "error": str(error)[:300]}))
            return None
        return answer if isinstance(answer, dict) and not response.get("FunctionError") else None

    return handle(event, now=datetime.now(UTC), env=dict(os.environ), ask=ask)
