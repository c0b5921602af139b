"""`airflow-stack bootstrap`: what a first `pulumi up` needs in the account, and nothing of the stack.

Pulumi keeps its state in a backend and encrypts config secrets with a secrets provider; in a GovCloud account
both live in the account itself: an S3 bucket (versioned, so an earlier state can be restored; encrypted with
the key below; private; TLS only; owner-enforced) and a KMS key with rotation, under an alias. The command
finds what exists and creates what does not, so it may be run again at any time; it prints the `pulumi login`
and `--secrets-provider` lines to use. `bootstrap_policy` is the least a principal running it needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.stacks import PROJECT

KEY_ALIAS = f"alias/{PROJECT}-pulumi-secrets"


@dataclass(frozen=True)
class Bootstrap:
    bucket: str
    key_arn: str
    created: tuple[str, ...]  # what this run created ("" where all was already there)

    def lines(self, region: str) -> list[str]:
        return [
            f"pulumi login 's3://{self.bucket}?region={region}&awssdk=v2'",
            f"pulumi stack init <stack> --secrets-provider 'awskms://{KEY_ALIAS}?region={region}'",
        ]


def state_bucket_name(account: str, region: str) -> str:
    return f"{PROJECT}-pulumi-state-{account}-{region}"


def bootstrap(client: Callable[[str], Any], region: str, bucket: str | None = None) -> Bootstrap:
    account = client("sts").get_caller_identity()["Account"]
    bucket = bucket or state_bucket_name(account, region)
    created: list[str] = []
    key_arn = _key(client("kms"), created)
    _bucket(client("s3"), bucket, account, region, key_arn, created)
    return Bootstrap(bucket, key_arn, tuple(created))


def _key(kms: Any, created: list[str]) -> str:
    for page in kms.get_paginator("list_aliases").paginate():
        for alias in page["Aliases"]:
            if alias["AliasName"] == KEY_ALIAS and alias.get("TargetKeyId"):
                key = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
                if key["KeyState"] != "Enabled":
                    raise RuntimeError(f"{KEY_ALIAS} points at key {key['KeyId']}, which is {key['KeyState']}")
                kms.enable_key_rotation(KeyId=key["KeyId"])  # idempotent: kept on
                return key["Arn"]
    key = kms.create_key(Description="Pulumi secrets of the airflow stacks (airflow-stack bootstrap)")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyId"])
    created.append(f"KMS key {key['KeyId']} ({KEY_ALIAS}, rotation on)")
    return key["Arn"]


def _bucket(s3: Any, bucket: str, account: str, region: str, key_arn: str, created: list[str]) -> None:
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise  # 403: someone else's bucket of that name, or no permission: said as AWS says it
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        created.append(f"S3 bucket {bucket}")
    # Each setting is put every run (idempotent): a bucket made by hand ends up as this one is.
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    partition = key_arn.split(":")[1]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(f"arn:{partition}:s3:::{bucket}")))


def tls_only_policy(bucket_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def bootstrap_policy(partition: str, account: str, region: str, bucket: str) -> dict[str, Any]:
    """The least a principal running `bootstrap` needs (and what `--print-policy` prints)."""
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    keys = f"arn:{partition}:kms:{region}:{account}:key/*"
    alias = f"arn:{partition}:kms:{region}:{account}:{KEY_ALIAS}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StateBucket",
                "Effect": "Allow",
                "Action": [
                    "s3:ListBucket",
                    "s3:CreateBucket",
                    "s3:PutBucketPublicAccessBlock",
                    "s3:PutBucketOwnershipControls",
                    "s3:PutBucketVersioning",
                    "s3:PutEncryptionConfiguration",
                    "s3:PutBucketPolicy",
                ],
                "Resource": [bucket_arn],
            },
            {"Sid": "FindTheKey", "Effect": "Allow", "Action": ["kms:ListAliases", "kms:CreateKey"], "Resource": "*"},
            {
                "Sid": "TheKey",
                "Effect": "Allow",
                "Action": ["kms:DescribeKey", "kms:EnableKeyRotation", "kms:CreateAlias"],
                "Resource": [keys],
            },
            {"Sid": "TheAlias", "Effect": "Allow", "Action": ["kms:CreateAlias"], "Resource": [alias]},
        ],
    }
