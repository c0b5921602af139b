"""The requests the stand-in AWS checks as AWS would: those the stack's own code sends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offline.constraints.model import operation_problems, service_model

_SIGNING_TO_MODEL = {"monitoring": "cloudwatch", "elasticloadbalancing": "elbv2", "servicequotas": "service-quotas"}
# Checked requests: where the callers are the stack's own code (the waker, the migration runner, the CLI).
_CHECKED_REQUESTS = {
    ("elbv2", "ModifyRule"),
    ("scheduler", "CreateSchedule"),
    ("scheduler", "UpdateSchedule"),
    ("ecs", "UpdateService"),
    ("ecs", "RunTask"),
    ("ecs", "UpdateTaskProtection"),
    ("ssm", "PutParameter"),
    ("rds", "CreateDBSnapshot"),
}


def protocol(signing_service: str) -> str:
    """The wire protocol of a service (how its errors are written)."""
    return service_model(_SIGNING_TO_MODEL.get(signing_service, signing_service)).metadata["protocol"]


def request_problem(signing_service: str, operation: str, params: Mapping[str, Any]) -> str | None:
    """Why AWS would refuse this request (a ValidationError), or None."""
    service = _SIGNING_TO_MODEL.get(signing_service, signing_service)
    problems: list[str] = []
    if (service, operation) in _CHECKED_REQUESTS:
        problems += operation_problems(service, operation, params)
    if (service, operation) == ("elbv2", "ModifyRule"):
        problems += _modify_rule_oidc(params)
    return "; ".join(problems) or None


def _modify_rule_oidc(params: Mapping[str, Any]) -> list[str]:
    """ModifyRule with an authenticate-oidc action needs the client secret, or UseExistingClientSecret
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AuthenticateOidcActionConfig.html:
    "If you are modifying a rule, you can omit this parameter if you set UseExistingClientSecret to true")."""
    problems = []
    for index, action in enumerate(params.get("Actions") or []):
        config = action.get("AuthenticateOidcConfig")
        if action.get("Type") == "authenticate-oidc" and config is not None:
            use_existing = str(config.get("UseExistingClientSecret", "")).lower() == "true"
            if not config.get("ClientSecret") and not use_existing:
                problems.append(
                    f"Actions[{index}].AuthenticateOidcConfig.ClientSecret is required unless "
                    "UseExistingClientSecret is true"
                )
    return problems
