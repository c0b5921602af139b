"""The waking page: the ALB sends visitors here while the stack sleeps (the waker switches the listener).

It answers at once (an HTML page that reloads into Airflow once it is up; for API clients a 503 JSON with
Retry-After) and asks the waker to wake, at most once per WAKE_INTERVAL_SECONDS per warm instance (a burst
of page loads is one request; the waker's own daily limit on visit wakes stops a crawler keeping it up).
Environment: STACK, WAKER_FUNCTION, VISIT_HOLD_MINUTES, ESTIMATE_MINUTES.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contracts.waker import WAKER_FUNCTION_VARIABLE, Wake, to_event

from .page import api_response, counts_as_visit, is_api, page_response

logger = logging.getLogger("waking_page")
logger.setLevel(logging.INFO)

WAKE_INTERVAL_SECONDS = 60
_last_wake: dict[str, datetime] = {}


def normalized(event: Any) -> dict[str, Any]:
    """The parts of an ALB request the page reads, whatever arrives: a malformed event is a plain GET of /.
    Headers may come as a map or, with multi-value headers on, as lists; names are case-insensitive."""
    event = event if isinstance(event, dict) else {}
    raw = event.get("headers") if isinstance(event.get("headers"), dict) else event.get("multiValueHeaders")
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
    }


def handle(
    request: Any,
    *,
    now: datetime,
    env: dict[str, str],
    invoke: Callable[[dict], None],
) -> dict[str, Any]:
    request = normalized(request)
    path = request["path"]
    estimate = int(env.get("ESTIMATE_MINUTES", "4"))
    requested_at = _last_wake.get("at", now)
    if counts_as_visit(request):
        last = _last_wake.get("at")
        if last is None or (now - last).total_seconds() >= WAKE_INTERVAL_SECONDS:
            invoke(
                to_event(Wake(hold_minutes=int(env.get("VISIT_HOLD_MINUTES", "30")), reason="UI visit", source="visit"))
            )
            _last_wake["at"] = requested_at = now
            logger.info(json.dumps({"event": "wake-requested", "path": path}))
    if is_api(path):
        return api_response(requested_at, estimate)
    return page_response(requested_at, now, estimate, env.get("STACK", "airflow"))


def handler(event: Any, context: Any) -> dict[str, Any]:
    import boto3

    client = boto3.client("lambda")
    function = os.environ[WAKER_FUNCTION_VARIABLE]

    def invoke(payload: dict) -> None:
        # Asynchronous: the visitor gets the page at once; the waker wakes the stack on its own time.
        client.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode())

    return handle(event, now=datetime.now(UTC), env=dict(os.environ), invoke=invoke)
