"""What `make plan` says first, before the resource list: how the waker will keep the stack, when its schedules
fire (in their own time zones), and what each IAM role may do, in one line each. All of it read from the
program's recording: the waker function's settings, the Scheduler schedules, the roles' inline policies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from contracts.cron import parse
from contracts.waker import WakerSettings, WakerVariable
from offline.recording import RecordedResource, Recording

WEEK_MINUTES = 7 * 24 * 60
DAGS = Path(__file__).resolve().parents[1] / "dags"


def waker_settings(recording: Recording) -> WakerSettings | None:
    for function in recording.of_type("aws:lambda/function:Function"):
        variables = (function.inputs.get("environment") or {}).get("variables") or {}
        if WakerVariable.WAKER_SETTINGS in variables:
            return WakerSettings.from_json(str(variables[WakerVariable.WAKER_SETTINGS]))
    return None


def waker_lines(settings: WakerSettings, waking_page: bool) -> list[str]:
    database = (
        f"stopped while asleep when the next wake is {settings.database_stop_after_minutes} min or more away "
        f"(it takes about {settings.database_start_minutes} min to start, added to the lead)"
        if settings.stop_database
        else "always up"
    )
    return [
        "Waker:",
        f"  sleeps after {settings.idle_minutes} idle minutes ({settings.scheduled_grace_minutes} after a wake for "
        "scheduled work only); a person's wake holds it up "
        f"{settings.default_hold_minutes} min unless they say otherwise",
        f"  wakes {settings.wake_lead_minutes} min before a DAG is due (learned from measured wakes, "
        f"{settings.wake_lead_min_minutes} to {settings.wake_lead_max_minutes} min), for queued messages, and on "
        "request",
        f"  workers: 0 to {settings.max_workers}, {settings.worker_concurrency} tasks each; a queued task fails "
        f"after {settings.task_queued_timeout_seconds // 60} min without a worker",
        f"  database: {database}",
        f"  visits to its UI wake it through the waking page, at most {settings.max_visit_wakes_per_day} a day"
        if waking_page
        else "  no waking page (no load balancer): wake it with `airflow-stack wake` or `airflow-stack ui`",
    ]


def _expression(schedule: RecordedResource) -> tuple[str, str]:
    return str(schedule.inputs.get("scheduleExpression")), str(
        schedule.inputs.get("scheduleExpressionTimezone") or "UTC"
    )


def schedule_lines(recording: Recording, now: datetime) -> list[str]:
    """Each recurring schedule; a cron one with its next two times, in its own time zone."""
    lines = ["Schedules (EventBridge Scheduler; the waker's own one-time wakes come and go):"]
    for schedule in sorted(recording.of_type("aws:scheduler/schedule:Schedule"), key=lambda s: s.name):
        expression, zone = _expression(schedule)
        state = "" if (schedule.inputs.get("state") or "ENABLED") == "ENABLED" else f" ({schedule.inputs['state']})"
        text = f"  {schedule.name:<34} {expression} {zone}{state}"
        if expression.startswith("cron("):
            offsets = parse(expression).occurrences(zone, now, WEEK_MINUTES + 24 * 60)[:2]
            times = [(now + timedelta(minutes=o)).astimezone(ZoneInfo(zone)) for o in offsets]
            text += ": next " + ", ".join(t.strftime("%a %Y-%m-%d %H:%M %Z") for t in times)
        lines.append(text)
    return lines


def _statements(document: object) -> Iterable[dict]:
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict)]


def may_do(policy: str) -> str:
    """`sqs: DeleteMessage ReceiveMessage; s3: GetObject` for a policy's allowed actions, by service."""
    by_service: dict[str, set[str]] = {}
    for statement in _statements(json.loads(policy)):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            service, _, name = str(action).partition(":")
            by_service.setdefault(service, set()).add(name)
    return "; ".join(f"{service}: {' '.join(sorted(names))}" for service, names in sorted(by_service.items()))


def _trusted_services(trust: str) -> set[str]:
    """`lambda`, `ecs-tasks`, `scheduler`: the services a role's trust policy admits."""
    found = set()
    for statement in _statements(json.loads(trust)):
        principal = statement.get("Principal")
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        for service in services if isinstance(services, list) else [services]:
            found.add(str(service).split(".")[0])
    return found


def role_lines(recording: Recording) -> list[str]:
    policies: dict[str, list[str]] = {}
    for policy in recording.of_type("aws:iam/rolePolicy:RolePolicy"):
        policies.setdefault(str(policy.inputs["role"]).removesuffix("-id"), []).append(str(policy.inputs["policy"]))
    attached: dict[str, int] = {}
    for attachment in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        role = next(
            (
                r.name
                for r in recording.of_type("aws:iam/role:Role")
                if r.outputs.get("name") == attachment.inputs["role"]
            ),
            str(attachment.inputs["role"]),
        )
        attached[role] = attached.get(role, 0) + 1
    lines = ["Roles, and what each may do:"]
    for role in sorted(recording.of_type("aws:iam/role:Role"), key=lambda r: r.name):
        trusted = sorted(_trusted_services(str(role.inputs["assumeRolePolicy"])))
        allowed = "; ".join(may_do(p) for p in policies.get(role.name, [])) or "nothing of its own"
        extra = f" + {attached[role.name]} attached policies (workerPolicyArns)" if role.name in attached else ""
        lines.append(f"  {role.name} ({'/'.join(trusted) or '?'}): {allowed}{extra}")
    return lines


READS_ENVIRONMENT = re.compile(
    r"""os\.(?:environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']"""
)


def dag_lines(recording: Recording, dags: Path = DAGS) -> list[str]:
    """What the DAGs in `dags` read from their environment that the stack does not set, and their AWS access:
    shipped as they are, the example DAGs would fall back to names that exist only in `make dev`."""
    found = {a or b for path in dags.glob("*.py") for a, b in READS_ENVIRONMENT.findall(path.read_text("utf-8"))}
    read = sorted(name for name in found if name and not name.startswith("AIRFLOW"))  # Airflow's own: the stack's
    worker = next(
        (
            json.loads(str(t.inputs["containerDefinitions"]))
            for t in recording.of_type("aws:ecs/taskDefinition:TaskDefinition")
            if str(t.inputs.get("family", "")).endswith("-worker")
        ),
        [],
    )
    given = {e["name"] for c in worker for e in c.get("environment", [])}
    unset = [name for name in read if name not in given]
    policies = len(recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    lines = ["DAGs (dags/):"]
    if unset:
        lines.append(
            f"  warning: they read {', '.join(unset)}, which services.environment does not set: on this stack those "
            "take the DAGs' own defaults (for the example DAGs, bucket and queue names that exist only in `make dev`)"
        )
    else:
        lines.append(f"  the settings they read are set: {', '.join(read) or 'none read'}")
    lines.append(
        f"  services.workerPolicyArns: {policies} attached"
        if policies
        else "  services.workerPolicyArns: none: their tasks touch nothing in AWS beyond the stack's bucket and queue"
    )
    return lines


def summary(recording: Recording, now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    settings = waker_settings(recording)
    waking_page = any(
        str(f.outputs.get("name", "")).endswith("-waking-page")
        for f in recording.of_type("aws:lambda/function:Function")
    )
    lines = waker_lines(settings, waking_page) if settings else ["Waker: none declared"]
    return "\n".join(
        [*lines, "", *schedule_lines(recording, moment), "", *role_lines(recording), "", *dag_lines(recording)]
    )
