"""One waker at a time, without reserved concurrency: a lease held as an SSM parameter.

Reserved concurrency fails on accounts whose Lambda concurrency is at its low default (it may not take the
unreserved pool below 100). Instead, a run creates the lease parameter with `Overwrite=False`, which SSM
does atomically: exactly one run creates it, the others get ParameterAlreadyExists. The lease names its
holder and an expiry past the function's timeout, so a run that died holding it delays the next by at most
that long; an expiry further ahead than any run could set, or one that cannot be read, counts as expired, so
no stored value wedges the waker. A run releases the lease when it ends. Standard parameters and their API
calls cost nothing.

Clearing an expired lease is not atomic with taking it; two runs that both find it expired could both
proceed. That needs a waker that died holding the lease and two overlapping invocations right after, and
the decisions are idempotent (absolute counts), so the cost of that rare overlap is one repeated decision.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any


def _take(ssm: Any, name: str, holder: str, until: datetime) -> bool:
    try:
        ssm.put_parameter(
            Name=name,
            Value=json.dumps({"holder": holder, "until": until.isoformat()}),
            Type="String",
            Overwrite=False,
            Description="the waker run that holds the lease (deleted when it ends)",
        )
        return True
    except ssm.exceptions.ParameterAlreadyExists:
        return False


def _expired(ssm: Any, name: str, now: datetime, ttl: timedelta) -> bool:
    """Past its expiry, unreadable, or with an expiry no run could have set (beyond now + the lease's time to
    live: a clock gone wrong, or a hand-edited value), which would otherwise make every later run wait forever."""
    try:
        value = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        until = datetime.fromisoformat(value["until"])
        return until <= now or until > now + ttl
    except ssm.exceptions.ParameterNotFound:
        return True
    except (KeyError, ValueError, TypeError, AttributeError):
        return True  # unreadable (not JSON, no expiry, a time without its zone): treat as abandoned


def acquire(
    ssm: Any,
    name: str,
    holder: str,
    *,
    now: Callable[[], datetime],
    ttl: timedelta,
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 1.0,
) -> bool:
    """Take the lease, waiting up to `wait_seconds` for another run to release it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        if _take(ssm, name, holder, now() + ttl):
            return True
        if _expired(ssm, name, now(), ttl):
            with contextlib.suppress(ssm.exceptions.ParameterNotFound):
                ssm.delete_parameter(Name=name)
            continue
        if time.monotonic() >= deadline:
            return False
        sleep(poll_seconds)


def release(ssm: Any, name: str, holder: str) -> None:
    try:
        value = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        if value.get("holder") == holder:
            ssm.delete_parameter(Name=name)
    except ssm.exceptions.ParameterNotFound:
        pass
