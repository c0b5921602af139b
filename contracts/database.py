"""The stack's database as the waker and the operator command read its RDS status."""

from __future__ import annotations

DATABASE_NOT_FOUND = "not-found"  # the waker's own word: the instance it manages does not exist
# Statuses from which an instance does not become available by itself, each with what to do
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status).
DATABASE_STUCK = {
    DATABASE_NOT_FOUND: "it was deleted or renamed outside Pulumi: `pulumi refresh`, then `pulumi up`",
    "failed": "AWS could not recover it: restore the latest snapshot (a new stack file setting)",
    "storage-full": "raise database.allocatedStorageGb (or maxAllocatedStorageGb) and `pulumi up`",
    "incompatible-restore": "the restore failed: restore another snapshot, or point-in-time",
    "incompatible-parameters": "fix the parameter group, then reboot the instance",
    "incompatible-network": "its subnets or addresses are gone: fix the VPC, then start it",
    "incompatible-option-group": "fix the option group, then reboot the instance",
    "inaccessible-encryption-credentials": "its KMS key is disabled or deleted: enable the key",
    "inaccessible-encryption-credentials-recoverable": "its KMS key is disabled: enable it, then start the instance",
    "insufficient-capacity": "no capacity for its class: wait, or choose another database.instanceClass",
    "restore-error": "the restore failed: restore another snapshot",
    "deleting": "it is being deleted: check who deletes it; the stack cannot wake without it",
}
