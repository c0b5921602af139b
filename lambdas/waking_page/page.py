"""What a visitor of a sleeping stack gets: pure functions from an ALB request to an ALB response."""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

RETRY_AFTER_SECONDS = 30
REFRESH_SECONDS = 10
# Requests that are not people: load balancer and uptime checks, crawlers. They get the page but wake nothing.
NOT_PEOPLE = ("elb-healthchecker", "bot", "crawler", "spider", "uptime", "pingdom", "statuscake", "monitor")


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/auth/token", "/execution/"))


def counts_as_visit(request: dict[str, Any]) -> bool:
    """Whether a request may wake the stack: a person's (or an API client's) GET or POST, not a checker's."""
    agent = str((request.get("headers") or {}).get("user-agent", "")).lower()
    return request.get("httpMethod", "GET") in ("GET", "POST", "PUT", "PATCH", "DELETE") and not any(
        word in agent for word in NOT_PEOPLE
    )


def api_response(requested_at: datetime, estimate_minutes: int) -> dict[str, Any]:
    body = {
        "status": "waking",
        "detail": f"This Airflow stack was asleep and is waking; it is usually ready in about {estimate_minutes} "
        "minutes. Retry after the Retry-After header's seconds.",
        "wakeRequestedAt": requested_at.isoformat(),
    }
    return {
        "statusCode": 503,
        "statusDescription": "503 Service Unavailable",
        "isBase64Encoded": False,
        "headers": {
            "Content-Type": "application/json",
            "Retry-After": str(RETRY_AFTER_SECONDS),
            "Cache-Control": "no-store",
        },
        "body": json.dumps(body),
    }


def page_response(requested_at: datetime, now: datetime, estimate_minutes: int, stack: str) -> dict[str, Any]:
    elapsed = max(0, int((now - requested_at).total_seconds()))
    share = min(95, int(100 * elapsed / (estimate_minutes * 60)))
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>Airflow is waking</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;color:#1f2933}}
.bar{{background:#e4e7eb;border-radius:4px;height:12px}}.fill{{background:#017cee;height:12px;border-radius:4px;width:{share}%}}</style>
</head><body>
<h1>Airflow is waking</h1>
<p>The <b>{html.escape(stack)}</b> Airflow stack sleeps when nothing runs, to save money. Your visit woke it at
{requested_at.strftime("%H:%M:%S")} UTC; it is usually ready in about {estimate_minutes} minutes.</p>
<div class="bar" role="progressbar" aria-valuenow="{share}" aria-valuemin="0" aria-valuemax="100">
<div class="fill"></div></div>
<p>{elapsed // 60} min {elapsed % 60} s so far. This page reloads every {REFRESH_SECONDS} seconds and becomes
Airflow as soon as it is up.</p>
</body></html>"""
    return {
        "statusCode": 503,
        "statusDescription": "503 Service Unavailable",
        "isBase64Encoded": False,
        "headers": {
            "Content-Type": "text/html; charset=utf-8",
            "Retry-After": str(RETRY_AFTER_SECONDS),
            "Cache-Control": "no-store",
        },
        "body": body,
    }
