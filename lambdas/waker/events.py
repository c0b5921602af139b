"""The events the waker accepts, validated into requests before anything is read or changed."""

from __future__ import annotations

from typing import Any

from waker.model import Deploy, Maintenance, Request, Sleep, Status, Tick, Wake

MAX_HOLD_MINUTES = 24 * 60
EVENTS = {
    "tick": set(),
    "wake": {"holdMinutes", "reason", "source"},
    "sleep": {"reason", "force", "holdMinutes"},
    "status": set(),
    "deploy": {"holdMinutes", "reason"},
    "maintenance": {"on", "reason"},
}
DEPLOY_HOLD_MINUTES = 60


class BadEvent(ValueError):
    pass


def _hold(event: dict[str, Any], default: int | None) -> int | None:
    value = event.get("holdMinutes")
    if value is None:  # absent or null: the default
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HOLD_MINUTES:
        raise BadEvent(f"holdMinutes must be a whole number of minutes from 0 to {MAX_HOLD_MINUTES}, got {value!r}")
    return value


def _reason(event: dict[str, Any], default: str) -> str:
    value = event.get("reason")
    if value is None:
        return default
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 200:
        raise BadEvent(f"reason must be a short text (1-200 characters), got {value!r}")
    return value.strip()


def parse_event(event: Any, *, default_hold_minutes: int) -> Request:
    """Turn an invocation payload into a request, or raise BadEvent saying what is allowed."""
    if not isinstance(event, dict):
        raise BadEvent('the event must be a JSON object like {"action": "status"}')
    action = event.get("action")
    if not isinstance(action, str) or action not in EVENTS:
        raise BadEvent(f"action must be one of {', '.join(EVENTS)}; got {action!r}")
    unknown = set(event) - EVENTS[action] - {"action"}
    if unknown:
        allowed = ", ".join(sorted(EVENTS[action])) or "nothing else"
        raise BadEvent(f"{action} takes {allowed}; unknown: {', '.join(sorted(unknown))}")
    if action == "tick":
        return Tick()
    if action == "status":
        return Status()
    if action == "wake":
        hold = _hold(event, default_hold_minutes)
        assert hold is not None
        source = event.get("source") or "request"
        if source not in ("request", "visit", "schedule"):
            raise BadEvent(f"source must be request, visit or schedule, got {source!r}")
        return Wake(hold_minutes=hold, reason=_reason(event, "manual wake"), source=source)
    if action == "maintenance":
        on = event.get("on")
        if not isinstance(on, bool):
            raise BadEvent(f"maintenance takes on: true or false, got {on!r}")
        return Maintenance(on=on, reason=_reason(event, "maintenance"))
    if action == "deploy":
        hold = _hold(event, DEPLOY_HOLD_MINUTES)
        assert hold is not None
        return Deploy(hold_minutes=hold, reason=_reason(event, "deploy"))
    force = event.get("force") if event.get("force") is not None else False
    if not isinstance(force, bool):
        raise BadEvent(f"force must be true or false, got {force!r}")
    return Sleep(reason=_reason(event, "manual sleep"), force=force, hold_minutes=_hold(event, None))
