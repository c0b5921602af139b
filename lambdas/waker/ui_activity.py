"""Whether the api-server's access log shows a person (or a tool of theirs) using Airflow: the UI, the REST API.

Airflow 3's api-server logs one event per finished request (its HttpAccessLogMiddleware: "request finished",
logger http.access, with method, path, status_code; health checks are not logged). In a container its lines
read as structlog's console rendering,

    2026-12-06T08:29:01.336397Z [info     ] request finished   [http.access] client_addr=... method=POST
    path=/api/v2/dags/x/dagRuns query= status_code=200

and as JSON where JSON logging is configured. Requests under /execution/ are the Task Execution API (workers,
the triggerer and the dag-processor reporting on tasks): the stack's own traffic, never a person's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

ACCESS_EVENT = "request finished"
# The filter CloudWatch Logs applies before the waker reads anything (a quoted term: lines containing it).
FILTER_PATTERN = f'"{ACCESS_EVENT}"'
MACHINE_PATH_PREFIXES = ("/execution/", "/api/v2/monitor/health")
_PATH = re.compile(r"(?:^|\s)path=(\S+)")


def request_path(message: str) -> str | None:
    """The path of an access-log line, or None if the line is not one."""
    text = message.strip()
    if text.startswith("{"):
        try:
            event = json.loads(text)
        except ValueError:
            return None
        if not isinstance(event, dict) or event.get("event") != ACCESS_EVENT:
            return None
        path = event.get("path")
        return path if isinstance(path, str) else None
    if ACCESS_EVENT not in text or "[http.access]" not in text:
        return None
    found = _PATH.search(text)
    return found.group(1) if found else None


def person_requests(messages: Iterable[str]) -> int:
    """How many of these log lines are requests a person (or their tool) made."""
    count = 0
    for message in messages:
        path = request_path(message)
        if path is not None and not path.startswith(MACHINE_PATH_PREFIXES):
            count += 1
    return count
