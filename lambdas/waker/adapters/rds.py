"""RDS: the metadata database's status, and stopping or starting it."""

from __future__ import annotations

from typing import Any

from contracts.database import DATABASE_NOT_FOUND


def status(rds: Any, instance_id: str) -> str:
    """The instance's status; `not-found` when it does not exist (reported, not raised: every run must answer)."""
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]["DBInstanceStatus"]
    except rds.exceptions.DBInstanceNotFoundFault:
        return DATABASE_NOT_FOUND


def apply(rds: Any, instance_id: str, action: str) -> bool:
    """Start or stop the instance; False if its current state does not allow it yet (the next tick retries)."""
    operation = {"start": rds.start_db_instance, "stop": rds.stop_db_instance}[action]
    try:
        operation(DBInstanceIdentifier=instance_id)
    except rds.exceptions.InvalidDBInstanceStateFault:
        return False
    return True
