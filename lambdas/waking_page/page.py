"""What a visitor of a sleeping stack is told: pure functions from what the waker said to an ALB response.

The page says what happened, as the waker answered it: this visit woke the stack, it was already waking
(since when), it is asleep on purpose (maintenance, a migration, a forced sleep's hold), the day's visit wakes
are used up (and how to wake it anyway), or the waker could not be asked. Only a waking stack shows progress,
counted from when it began to wake.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

RETRY_AFTER_SECONDS = 30
REFRESH_SECONDS = 10
# Set on a page that shows a waking stack: its reloads ask how the wake goes and are not new visits.
WAITING_COOKIE = "airflow-waking"
WAITING_COOKIE_SECONDS = 30 * 60

Kind = Literal["woke", "waking", "held", "limit", "unknown", "asleep"]


@dataclass(frozen=True)
class Situation:
    kind: Kind
    since: datetime | None = None  # when the stack began to wake (woke, waking)
    detail: str = ""  # the waker's reason (held), or what went wrong (unknown)
    limit: int = 0  # the day's visit wakes (limit)

    @property
    def waking(self) -> bool:
        return self.kind in ("woke", "waking")


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")


def message(situation: Situation, stack: str, estimate_minutes: int) -> tuple[str, str]:
    """The page's headline and its sentence for the visitor."""
    name = f"The {stack} Airflow stack"
    ready = f"it is usually ready in about {estimate_minutes} minutes"
    wake_anyway = f"An operator can wake it: airflow-stack wake --stack {stack.removeprefix('airflow-')}"
    since = _clock(situation.since) if situation.since else "a moment ago"
    if situation.kind == "woke":
        return (
            "Airflow is waking",
            f"{name} sleeps when nothing runs, to save money. Your visit woke it at {since}; {ready}.",
        )
    if situation.kind == "waking":
        return "Airflow is waking", f"{name} is already waking, since {since}; {ready}."
    if situation.kind == "held":
        return "Airflow is asleep on purpose", f"{name} is held asleep: {situation.detail}. Visits do not wake it."
    if situation.kind == "limit":
        return (
            "Airflow is asleep",
            f"{name} is asleep, and today's {situation.limit} wakes by visitors are used up (so that crawlers "
            f"cannot keep it up). {wake_anyway}.",
        )
    if situation.kind == "asleep":
        return (
            "Airflow is asleep",
            f"{name} is asleep. This request did not look like a person's browser opening a page, so it woke "
            f"nothing: open this address in a browser to wake it. {wake_anyway}.",
        )
    return (
        "Airflow is asleep",
        f"{name} is asleep and could not be asked to wake just now ({situation.detail}); this page asks again "
        f"in {REFRESH_SECONDS} seconds.",
    )


def api_response(stack: str) -> dict[str, Any]:
    """An API client of a sleeping stack: wakes nothing (a program is not a visitor), is told how to wake it."""
    body = {
        "status": "asleep",
        "detail": f"The {stack} Airflow stack is asleep or waking. Wake it with airflow-stack wake, or open the UI "
        "in a browser; retry after the Retry-After header's seconds.",
    }
    return _response("application/json", json.dumps(body))


def page_response(situation: Situation, now: datetime, estimate_minutes: int, stack: str) -> dict[str, Any]:
    headline, sentence = message(situation, stack, estimate_minutes)
    progress = ""
    if situation.waking and situation.since is not None:
        elapsed = max(0, int((now - situation.since).total_seconds()))
        share = min(95, int(100 * elapsed / (estimate_minutes * 60)))
        progress = f"""<div class="bar" role="progressbar" aria-valuenow="{share}"
aria-valuemin="0" aria-valuemax="100"><div class="fill" style="width:{share}%"></div></div>
<p>{elapsed // 60} min {elapsed % 60} s so far. This page reloads every {REFRESH_SECONDS} seconds and becomes
Airflow as soon as it is up.</p>"""
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if situation.kind != "limit" else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{refresh}
<title>{html.escape(headline)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;color:#1f2933}}
.bar{{background:#e4e7eb;border-radius:4px;height:12px}}.fill{{background:#017cee;height:12px;border-radius:4px}}</style>
</head><body>
<h1>{html.escape(headline)}</h1>
<p>{html.escape(sentence)}</p>
{progress}
</body></html>"""
    response = _response("text/html; charset=utf-8", body)
    if situation.waking:
        response["headers"]["Set-Cookie"] = (
            f"{WAITING_COOKIE}=1; Max-Age={WAITING_COOKIE_SECONDS}; Path=/; Secure; HttpOnly; SameSite=Lax"
        )
    return response


def _response(content_type: str, body: str) -> dict[str, Any]:
    return {
        "statusCode": 503,
        "statusDescription": "503 Service Unavailable",
        "isBase64Encoded": False,
        "headers": {"Content-Type": content_type, "Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        "body": body,
    }
