"""What ECS gives a container of the stack: its command, its environment, its secrets and its role.

As on Fargate: the environment is the task definition's; each `secrets` entry is read from Secrets
Manager with the task's *execution* role (a whole secret, or one JSON key of it:
`arn:...:secret:NAME-AbCdEf:KEY::`,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html); the code
runs with the *task* role's credentials. Here the AWS endpoint is the stand-in's.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standin.seed import SeededStack

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Container:
    component: str
    name: str
    command: list[str]
    environment: dict[str, str]
    stop_timeout: int
    essential: bool


def _secret_value(secrets_manager: Any, value_from: str) -> str:
    # arn:partition:secretsmanager:region:account:secret:name-suffix[:json-key:version-stage:version-id]
    parts = value_from.split(":")
    arn, key = ":".join(parts[:7]), (parts[7] if len(parts) > 7 else "")
    text = secrets_manager.get_secret_value(SecretId=arn)["SecretString"]
    return str(json.loads(text)[key]) if key else text


def container(seeded: SeededStack, component: str, name: str | None = None) -> Container:
    """One container of a component's task, its secrets resolved with the task's execution role."""
    definitions = seeded.containers(component)
    definition = next(c for c in definitions if c["name"] == (name or component))
    secrets_manager = seeded.stand_in.client_as(seeded.execution_role(component), "secretsmanager")
    environment = {e["name"]: e["value"] for e in definition.get("environment", [])}
    for secret in definition.get("secrets", []):
        environment[secret["name"]] = _secret_value(secrets_manager, secret["valueFrom"])
    return Container(
        component=component,
        name=definition["name"],
        command=list(definition.get("command") or []),  # as the image's entrypoint receives it
        environment=environment,
        stop_timeout=int(definition.get("stopTimeout") or 30),
        essential=bool(definition.get("essential", True)),
    )


def container_environment(seeded: SeededStack, task: Container, **extra: str) -> dict[str, str]:
    """What ECS hands the container: its task definition's environment and secrets, and the task role's
    credentials (here for the stand-in AWS), plus `extra` (what differs on one machine)."""
    credentials = seeded.stand_in.credentials(seeded.task_role(task.component), session=task.name)
    return {**task.environment, **seeded.stand_in.environment(credentials), **extra}


def process_environment(seeded: SeededStack, task: Container, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a process of this machine's virtualenv standing in for the container (the tests of
    single components): the container's own, plus this machine's Python and a home of its own."""
    venv_bin = str(Path(sys.executable).parent)
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        # What a container has of its own: a filesystem (temp files, downloaded DAG bundles).
        "TMPDIR": str(home / "tmp"),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(home / "dag-bundles"),
        "AIRFLOW_WORKER_PROTECTION_STATE": str(home / "tmp" / "running-tasks"),
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        # The image's scripts sit in /opt/airflow and its Celery options in $AIRFLOW_HOME/config: the same
        # modules are importable here from image/.
        "PYTHONPATH": str(ROOT / "image"),
        "LANG": "C.UTF-8",
        **container_environment(seeded, task, **extra),
    }
