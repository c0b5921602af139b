"""The stack's bucket: the DAG bundle (`dags/`) and remote task logs (`logs/`).

Encrypted, public access blocked, versioned (a DAG upload can be rolled back), TLS-only by policy,
owner-enforced; task logs and old DAG versions expire after the stack's retention.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import iam_policies
from infra.airflow_env import LOGS_PREFIX
from infra.stack_context import StackContext


@dataclass(frozen=True)
class StorageArgs:
    context: StackContext


class Storage(pulumi.ComponentResource):
    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:storage:Storage", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        protected = context.settings.database.deletion_protection

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=f"{context.name}-",
            force_destroy=not protected,
            opts=pulumi.ResourceOptions(parent=self, protect=protected),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256",
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        retention = context.settings.log_retention_days
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-task-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=LOGS_PREFIX),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=retention),
                ),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=retention,
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7,
                    ),
                ),
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(
                lambda arn: json.dumps(iam_policies.deny_insecure_transport("s3", [arn, f"{arn}/*"]))
            ),
            opts=child,
        )

        if context.settings.waker.wake_on_dag_change:
            # DAG uploads reach EventBridge, where the waker's rule picks them up.
            aws.s3.BucketNotification(f"{name}-events", bucket=self.bucket.id, eventbridge=True, opts=child)

        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.register_outputs({"bucket": self.bucket_name})
