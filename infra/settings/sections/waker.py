"""The waker section: its tuning (defaults from the contract), wake windows, event queues and alarms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from typing import Any

from contracts.stacks import stack_prefix
from contracts.waker import schedule_name
from infra.settings.model import (
    REGION_PARTITIONS,
    WakerSettings,
    WakeWindow,
)
from infra.settings.schema import (
    InvalidSetting,
    Section,
    arn,
    boolean,
    eventbridge_cron,
    integer,
    list_of,
    one_of,
    text,
)

_EMAIL = text(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", "an email address")


# Files a system's zoneinfo directory holds beside the zones, which ZoneInfo reads but are no IANA zone names
# (EventBridge Scheduler takes those only): this machine's own zone, the POSIX default rules, tzdata's
# placeholder, and the duplicate trees.
NOT_ZONE_NAMES = frozenset({"localtime", "posixrules", "Factory"})


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    allowed = f"must be an IANA time zone like America/New_York or UTC, got {value!r}"
    if not isinstance(value, str) or value in NOT_ZONE_NAMES or value.startswith(("posix/", "right/")):
        raise InvalidSetting(allowed)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidSetting(allowed) from None
    return value


# EventBridge Scheduler names are at most 64 characters (botocore model of CreateSchedule); a window's
# schedule is named <stack name>-window-<window name>.
SCHEDULE_NAME_MAX = 64


def window_schedule_name(stack: str, window: str) -> str:
    return schedule_name(stack_prefix(stack), f"window-{window}")


def _windows(section: Section, stack: str) -> tuple[WakeWindow, ...]:
    raw = section.raw.get("windows") or []
    if not isinstance(raw, list) or len(raw) > 20:
        section.fail("windows", "must be a list (up to 20) of {name, cron, timezone, durationMinutes}")
        return ()
    windows = []
    for index, item in enumerate(raw):
        window = Section(f"{section.path('windows')}[{index}]", item, section.problems)
        windows.append(
            WakeWindow(
                name=window.get("name", text(r"[a-z0-9-]{1,40}", "lowercase letters, digits and hyphens"), f"w{index}"),
                cron=window.get("cron", eventbridge_cron, ""),
                timezone=window.get("timezone", _timezone, "UTC"),
                duration_minutes=window.get("durationMinutes", integer(1, 1440), 60),
            )
        )
        if not window.has("cron"):
            window.fail("cron", "is required: when the window opens")
        longest = SCHEDULE_NAME_MAX - len(window_schedule_name(stack, ""))
        if len(windows[-1].name) > longest:
            window.fail(
                "name",
                f"is at most {longest} characters in stack {stack} (its schedule {window_schedule_name(stack, '...')} "
                f"must fit EventBridge Scheduler's 64); got {len(windows[-1].name)}",
            )
        window.reject_unknown()
    names = [w.name for w in windows]
    if len(set(names)) != len(names):
        section.fail("windows", "names must be unique")
    return tuple(windows)


QUEUE_ARN_FOR = {
    partition: arn(partition, "sqs", r"[\w-]{1,80}", "arn:{partition}:sqs:us-gov-east-1:123456789012:queue-name")
    for partition in set(REGION_PARTITIONS.values())
}

# How each `airflow:waker` setting is read (the key is the field's name in camelCase); every default is the
# dataclass's, and the waker's tuning takes its defaults from the contract (contracts/waker.py).
_WAKER_READERS: dict[str, Callable[[Any], Any]] = {
    "idle_minutes": integer(5, 1440),
    "wake_lead_minutes": integer(1, 60),
    "wake_lead_min_minutes": integer(1, 60),
    "wake_lead_max_minutes": integer(1, 120),
    "scheduled_grace_minutes": integer(1, 60),
    "max_workers": integer(1, 50),
    "reporter_stale_minutes": integer(2, 60),
    "boot_grace_minutes": integer(1, 60),
    "stop_database": boolean,
    "database_start_minutes": integer(5, 60),
    "database_stop_after_minutes": integer(30, 10080),
    "default_hold_minutes": integer(1, 1440),
    "max_visit_wakes_per_day": integer(0, 288),
    "wake_on_dag_change": boolean,
    "dag_change_hold_minutes": integer(1, 120),
    "alarm_emails": list_of(_EMAIL, maximum=10),
    "alarm_topic_key": one_of("none", "customer"),
    "dashboard": boolean,
}

_WAKER_DEFAULTS = {f.name: f.default for f in dataclass_fields(WakerSettings)}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def read_waker(section: Section, partition: str, stack: str) -> WakerSettings:
    queue_arn = QUEUE_ARN_FOR[partition]
    section.read.add("windows")
    settings = WakerSettings(
        **{name: section.get(_camel(name), read, _WAKER_DEFAULTS[name]) for name, read in _WAKER_READERS.items()},
        windows=_windows(section, stack),
        event_queue_arns=section.get("eventQueueArns", list_of(queue_arn, maximum=10), ()),
    )
    if settings.wake_lead_min_minutes > settings.wake_lead_max_minutes:
        section.fail(
            "wakeLeadMinMinutes",
            f"must be at most wakeLeadMaxMinutes ({settings.wake_lead_max_minutes}); "
            f"got {settings.wake_lead_min_minutes}",
        )
    elif not settings.wake_lead_min_minutes <= settings.wake_lead_minutes <= settings.wake_lead_max_minutes:
        section.fail(
            "wakeLeadMinutes",
            f"is the lead until wakes are measured, then learned within wakeLeadMinMinutes..wakeLeadMaxMinutes "
            f"({settings.wake_lead_min_minutes}..{settings.wake_lead_max_minutes}): it must be within them too; "
            f"got {settings.wake_lead_minutes}",
        )
    section.reject_unknown()
    return settings
