"""One waker at a time, without reserved concurrency: a lease held as an SSM parameter.

Reserved concurrency fails on accounts whose Lambda concurrency is at its low default (it may not take the
unreserved pool below 100). Instead, a run creates the lease parameter with `Overwrite=False`, which SSM
does atomically: exactly one run creates it, the others get ParameterAlreadyExists. The lease names its
holder and an expiry past the function's timeout, so a run that died holding it delays the next by at most
that long; an expiry further ahead than any run could set, or one that cannot be read, counts as expired, so
no stored value wedges the waker. A run releases the lease when it ends. Standard parameters and their API
calls cost nothing.

Taking over an expired lease is conditional. SSM has no compare-and-swap, so the takeover is guarded by a
second lease (the guard, `<lease>-takeover`, created the same atomic way): only its holder may replace the
expired lease, and only if the lease still holds the very value it found expired. Two runs that both find
one lease expired cannot both take it: one holds the guard, and the other, once it gets the guard, finds the
lease changed and waits. A guard left by a run that died inside its few milliseconds of takeover expires
like the lease and is taken over by the same rule, one level up; at the last level it is cleared outright
(that needs two runs dead mid-takeover in a row).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts.waker import lease_parameters

_MISSING = ""  # what `_read` returns for a parameter that does not exist (a stored value is never empty)


@dataclass(frozen=True)
class _Run:
    ssm: Any
    holder: str
    now: Callable[[], datetime]
    ttl: timedelta

    def value(self) -> str:
        return json.dumps({"holder": self.holder, "until": (self.now() + self.ttl).isoformat()})


def _create(run: _Run, name: str) -> bool:
    try:
        run.ssm.put_parameter(
            Name=name,
            Value=run.value(),
            Type="String",
            Overwrite=False,
            Description="the waker run that holds the lease (deleted when it ends)",
        )
        return True
    except run.ssm.exceptions.ParameterAlreadyExists:
        return False


def _read(run: _Run, name: str) -> str:
    try:
        return run.ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except run.ssm.exceptions.ParameterNotFound:
        return _MISSING


def _expired(value: str, now: datetime, ttl: timedelta) -> bool:
    """Past its expiry, unreadable, or with an expiry no run could have set (beyond now + the lease's time to
    live: a clock gone wrong, or a hand-edited value), which would otherwise make every later run wait forever."""
    try:
        until = datetime.fromisoformat(json.loads(value)["until"])
        return until <= now or until > now + ttl
    except (KeyError, ValueError, TypeError, AttributeError):
        return True  # unreadable (not JSON, no expiry, a time without its zone): treat as abandoned


def _take(run: _Run, names: tuple[str, ...]) -> bool:
    """Take names[0]: create it, or take it over if it has expired, guarded by names[1:]."""
    name = names[0]
    if _create(run, name):
        return True
    found = _read(run, name)
    if found == _MISSING:
        return _create(run, name)  # released between the two calls
    if not _expired(found, run.now(), run.ttl):
        return False
    if len(names) == 1:  # the last guard: nothing above it to guard its takeover
        with contextlib.suppress(run.ssm.exceptions.ParameterNotFound):
            run.ssm.delete_parameter(Name=name)
        return _create(run, name)
    if not _take(run, names[1:]):
        return False
    try:
        if _read(run, name) != found:
            return False  # taken over or released by another run since: not ours to replace
        run.ssm.put_parameter(Name=name, Value=run.value(), Type="String", Overwrite=True)
        return True
    finally:
        release(run.ssm, names[1], run.holder)


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
    run = _Run(ssm, holder, now, ttl)
    deadline = time.monotonic() + wait_seconds
    while not _take(run, lease_parameters(name)):
        if time.monotonic() >= deadline:
            return False
        sleep(poll_seconds)
    return True


def release(ssm: Any, name: str, holder: str) -> None:
    try:
        value = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        if isinstance(value, dict) and value.get("holder") == holder:
            ssm.delete_parameter(Name=name)
    except ssm.exceptions.ParameterNotFound:
        pass
    except ValueError:
        pass  # not JSON: no run wrote it, so it is not this run's to delete
