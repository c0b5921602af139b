"""CloudWatch Logs: the api-server's recent access-log lines, for a stack without a load balancer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from ..ui_activity import FILTER_PATTERN, person_requests

MAX_PAGES = 5  # enough to see that someone is there; the count is a signal, not a tally


def _messages(logs: Any, log_group: str, start: datetime, end: datetime) -> Iterator[str]:
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = logs.filter_log_events(
            logGroupName=log_group,
            startTime=int(start.timestamp() * 1000),
            endTime=int(end.timestamp() * 1000),
            filterPattern=FILTER_PATTERN,
            **({"nextToken": token} if token else {}),
        )
        for event in page.get("events", []):
            message = event.get("message")
            if isinstance(message, str):
                yield message
        token = page.get("nextToken")
        if not token:
            return


def ui_requests(logs: Any, log_group: str, now: datetime, minutes: int) -> int:
    """A person's requests to the api-server in the last `minutes`; a log group not (yet) there has none."""
    try:
        return person_requests(_messages(logs, log_group, now - timedelta(minutes=minutes), now))
    except logs.exceptions.ResourceNotFoundException:
        return 0
