"""The secrets section, and restoredFrom (written by `airflow-stack stage`)."""

from __future__ import annotations

from typing import Any

from contracts.stacks import STACK_NAME
from infra.settings.model import (
    RestoredFrom,
    SecretsSettings,
)
from infra.settings.schema import (
    InvalidSetting,
    Section,
    arn,
    integer,
    list_of,
    string_map,
    text,
)
from infra.settings.sections.services import POLICY_ARN_FOR
from infra.settings.sections.waker import QUEUE_ARN_FOR


def read_restored_from(section: Section, partition: str) -> RestoredFrom | None:
    if not section.raw:
        section.reject_unknown()
        return None
    restored = RestoredFrom(
        stack=section.get("stack", text(STACK_NAME.pattern, "the source stack's name"), ""),
        snapshot=section.get("snapshot", text(r"\S{1,255}", "the snapshot's identifier"), ""),
        environment=section.get("environment", string_map, {}),
        worker_policy_arns=section.get("workerPolicyArns", list_of(POLICY_ARN_FOR[partition], maximum=10), ()),
        event_queue_arns=section.get("eventQueueArns", list_of(QUEUE_ARN_FOR[partition], maximum=10), ()),
    )
    section.reject_unknown()
    if not restored.stack:
        section.fail("stack", "is required: the stack this one is a copy of")
    return restored


def _recovery_window(value: Any) -> int:
    try:
        days = integer(0, 30)(value)
    except InvalidSetting:
        days = -1
    if days not in (0, *range(7, 31)):
        raise InvalidSetting(f"must be 0 (delete at once) or 7 to 30 days, got {value!r}")
    return days


def read_secrets(section: Section, stack: str, partition: str) -> SecretsSettings:
    if section.has("fernetKeySecretArn"):
        section.read.add("fernetKeySecretArn")
        section.fail(
            "fernetKeySecretArn",
            "is no longer read: a role that may read another stack's secret for its Fernet key may read all of it "
            "(IAM grants whole secrets); set secrets.fernetKeyFrom to the source stack's airflowSecretArn instead, "
            "and `pulumi up` copies only its fernet_key into this stack's own secret (airflow-stack stage writes it)",
        )
    settings = SecretsSettings(
        fernet_key_from=section.get(
            "fernetKeyFrom",
            arn(
                partition,
                "secretsmanager",
                r"secret:[\w/+=.@-]+-[A-Za-z0-9]{6}",
                "arn:{partition}:secretsmanager:us-gov-east-1:123456789012:secret:name-AbCdEf",
            ),
            None,
        ),
        recovery_window_days=section.get("recoveryWindowDays", _recovery_window, 30 if stack == "prod" else 0),
    )
    section.reject_unknown()
    return settings
