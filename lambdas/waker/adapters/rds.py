"""RDS: the metadata database's status, and stopping or starting it."""

from __future__ import annotations

from typing import Any


def status(rds: Any, instance_id: str) -> str:
    return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["DBInstanceStatus"]


def apply(rds: Any, instance_id: str, action: str) -> None:
    if action == "start":
        rds.start_db_instance(DBInstanceIdentifier=instance_id)
    elif action == "stop":
        rds.stop_db_instance(DBInstanceIdentifier=instance_id)
    else:
        raise ValueError(f"unknown database action {action!r}")
