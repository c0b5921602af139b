"""`airflow-stack stage`: the config of a staging stack restored from a prod snapshot.

It reads prod (outputs, snapshots) and writes Pulumi.<staging>.yaml; it never changes prod. The staging
config restores the newest (or the named) snapshot, has `pulumi up` copy prod's Fernet key (and only that)
into staging's own secret so restored connections and variables decrypt, keeps staging's own encrypted settings
(never prod's ciphertext), is sized down, unprotected (deletion protection off, no final snapshot, secrets deleted
at once) and sleeps hard. The program pauses every DAG of the restored database before any scheduler runs.

Nothing of prod's reaches outside the copy: prod's services.environment, workerPolicyArns and the event
queues its waker watches are dropped, and recorded under `restoredFrom` so the plan refuses them if they
come back; staging's own are given with --set-env KEY=VALUE, --worker-policy ARN and --event-queue ARN.
A protected stack, or one with data of its own, is never written. Re-staging a deployed staging stack first
puts it to sleep in maintenance (nothing wakes it) until the restore guard has run on its new database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airflow_stack.outputs import StackError, StackOutputs
from infra.settings.model import DEFAULT_MAX_STORAGE_GB

HEADER = (
    "# Staging stack restored from a snapshot of {source} by `airflow-stack stage` on {when}.\n"
    "# Every DAG of the restored database is paused before any scheduler runs. Run: pulumi up -s {stack}\n"
)


def choose_snapshot(rds: Any, source: StackOutputs, snapshot_id: str | None) -> dict[str, Any]:
    """The named snapshot, or the newest available one of the source stack's database, automated (RDS's daily
    `rds:<db>-...`) or manual (`airflow-stack snapshot`), whichever is newer. A snapshot of another database
    is refused."""
    instance = source["databaseIdentifier"]
    if snapshot_id:
        try:
            found = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"]
        except rds.exceptions.DBSnapshotNotFoundFault:
            raise StackError(f"snapshot {snapshot_id} not found in {source.region}") from None
        snapshot = found[0]
        if snapshot.get("DBInstanceIdentifier") != instance:
            raise StackError(
                f"snapshot {snapshot_id} is of database {snapshot.get('DBInstanceIdentifier')}, not {source.stack}'s "
                f"{instance}: stage restores only the source stack's own snapshots"
            )
        if snapshot["Status"] != "available":
            raise StackError(f"snapshot {snapshot_id} is {snapshot['Status']}, not available yet")
        return snapshot
    # Without SnapshotType, DescribeDBSnapshots lists automated and manual snapshots alike.
    found = rds.describe_db_snapshots(DBInstanceIdentifier=instance)["DBSnapshots"]
    available = [s for s in found if s["Status"] == "available" and s.get("DBInstanceIdentifier") == instance]
    if not available:
        raise StackError(
            f"{source.stack} has no available snapshot of {instance}: "
            f"take one with `airflow-stack snapshot --stack {source.stack}`"
        )
    return max(available, key=lambda s: s["SnapshotCreateTime"])


def check_key(kms: Any, snapshot: dict[str, Any]) -> None:
    """An encrypted snapshot can only be restored with a KMS key the stack may use."""
    if not snapshot.get("Encrypted"):
        return
    key = snapshot.get("KmsKeyId", "")
    try:
        state = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
    except kms.exceptions.ClientError as error:
        raise StackError(
            f"snapshot {snapshot['DBSnapshotIdentifier']} is encrypted with {key}, which this account "
            f"cannot use ({error.response['Error']['Code']}); copy it with a key you can use"
        ) from None
    if state != "Enabled":
        raise StackError(f"snapshot {snapshot['DBSnapshotIdentifier']} is encrypted with {key}, which is {state}")


def _encrypted(value: Any) -> bool:
    """A `pulumi config set --secret` value: ciphertext of the stack's own secrets provider."""
    return isinstance(value, dict) and set(value) == {"secure"}


def _object(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key) or {}
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class StagingTargets:
    """What the staging copy may reach, given for staging itself (never the source's)."""

    environment: dict[str, str] = field(default_factory=dict)
    worker_policy_arns: tuple[str, ...] = ()
    event_queue_arns: tuple[str, ...] = ()


def staging_document(
    source_document: dict[str, Any],
    existing_document: dict[str, Any] | None,
    *,
    snapshot: dict[str, Any],
    source: StackOutputs,
    targets: StagingTargets | None = None,
) -> dict[str, Any]:
    """Pulumi.<staging>.yaml: the source's settings, changed for a disposable copy restored from `snapshot`."""
    targets = targets or StagingTargets()
    document = dict(existing_document or {})  # keeps encryptionsalt / secretsprovider of an existing stack
    # Encrypted values are the source's, under the source's secrets provider: staging could not decrypt them, and
    # must not hold them. Staging keeps its own (its OIDC client secret, for example), set with its own key.
    config = {k: v for k, v in (source_document.get("config") or {}).items() if not _encrypted(v)}
    for key, value in (existing_document or {}).get("config", {}).items():
        if key.startswith("aws:") or not key.startswith("airflow:") or _encrypted(value):
            config[key] = value  # the staging stack's own provider settings and secrets stay

    database = _object(config, "airflow:database")
    # A restore needs at least the snapshot's size: the source's storage may have grown by autoscaling since
    # its stack file was written. Autoscaling carries over, its ceiling raised to the snapshot's size if need be.
    allocated = max(20, int(snapshot.get("AllocatedStorage", 20)))
    ceiling = int(database.get("maxAllocatedStorageGb", DEFAULT_MAX_STORAGE_GB))
    database.update(
        {
            "restoreFromSnapshot": snapshot["DBSnapshotIdentifier"],
            "instanceClass": "db.t4g.small",
            "allocatedStorageGb": allocated,
            "maxAllocatedStorageGb": 0 if ceiling == 0 else max(ceiling, allocated),
            "backupRetentionDays": 1,
            "deletionProtection": False,
            "finalSnapshot": False,
            "multiAz": False,
        }
    )
    config["airflow:database"] = database

    secrets = _object(config, "airflow:secrets")
    secrets.pop("fernetKeySecretArn", None)
    # `pulumi up` copies the source's fernet_key (and nothing else of its secret) into staging's own secret.
    secrets.update({"fernetKeyFrom": source["airflowSecretArn"], "recoveryWindowDays": 0})
    config["airflow:secrets"] = secrets

    services = _object(config, "airflow:services")
    source_environment = dict(services.pop("environment", None) or {})
    source_policies = list(services.pop("workerPolicyArns", None) or [])
    if targets.environment:
        services["environment"] = dict(targets.environment)
    if targets.worker_policy_arns:
        services["workerPolicyArns"] = list(targets.worker_policy_arns)
    for component in ("apiServer", "scheduler", "dagProcessor", "triggerer", "worker"):
        services.pop(component, None)  # back to the defaults: the smallest sizes
    config["airflow:services"] = services

    waker = _object(config, "airflow:waker")
    source_queues = list(waker.pop("eventQueueArns", None) or [])
    if targets.event_queue_arns:
        waker["eventQueueArns"] = list(targets.event_queue_arns)
    waker.update({"idleMinutes": 10, "maxWorkers": 2, "stopDatabase": True})
    waker.pop("windows", None)  # a rehearsal copy has no office hours
    waker.pop("alarmEmails", None)
    config["airflow:waker"] = waker

    ui = _object(config, "airflow:ui")
    ui.pop("hostName", None)  # prod's name is prod's
    if ui:
        config["airflow:ui"] = ui
    config["airflow:logRetentionDays"] = 14
    tags = _object(config, "airflow:tags")
    tags.update({"Environment": "staging", "RestoredFrom": snapshot["DBSnapshotIdentifier"]})
    config["airflow:tags"] = tags
    config["airflow:restoredFrom"] = {
        "stack": source.stack,
        "snapshot": snapshot["DBSnapshotIdentifier"],
        "environment": source_environment,
        "workerPolicyArns": source_policies,
        "eventQueueArns": source_queues,
    }
    document["config"] = config
    return document


def write_stack_file(path: Path, document: dict[str, Any], header: str) -> None:
    path.write_text(header + yaml.safe_dump(json.loads(json.dumps(document, default=str)), sort_keys=False))
