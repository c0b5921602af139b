"""Stack names, and the physical names the program gives what operators and the CLI look up."""

from __future__ import annotations

import re

PROJECT = "airflow"  # Pulumi.yaml's name; every physical name starts with `airflow-<stack>`
# A Pulumi stack of this project: short enough that `airflow-<stack>-...` fits AWS's name limits.
STACK_NAME = re.compile(r"[a-z][a-z0-9-]{0,20}")
STACK_NAME_RULE = "lowercase letters, digits and hyphens (up to 21), starting with a letter"


def is_stack_name(value: object) -> bool:
    return isinstance(value, str) and STACK_NAME.fullmatch(value) is not None


def stack_prefix(stack: str) -> str:
    """Prefix of every physical name in the stack, e.g. `airflow-dev`."""
    return f"{PROJECT}-{stack}"


def iam_path(prefix: str) -> str:
    """The IAM path of every role and policy of the stack (`/airflow-dev/`): their names are Pulumi's
    (logical name and a random suffix), so the path is what lets a deploying role be limited to its stack's."""
    return f"/{prefix}/"


def stack_of_prefix(prefix: str) -> str | None:
    """The stack a physical-name prefix belongs to, or None if it is not this project's."""
    stack = prefix.removeprefix(f"{PROJECT}-")
    return stack if stack != prefix and is_stack_name(stack) else None


def waker_function_name(prefix: str) -> str:
    return f"{prefix}-waker"


def component_log_group(prefix: str, component: str) -> str:
    """The CloudWatch log group of one Airflow component (or of `migrate`), e.g. /airflow/dev/api-server."""
    return f"/{prefix.replace('-', '/', 1)}/{component}"
