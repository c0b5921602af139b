"""`airflow-stack bootstrap` against the stand-in with IAM enforced: run by a role holding exactly the policy
`--print-policy` prints, it creates Pulumi's state bucket and secrets key as they must be, and running it again
changes nothing and creates nothing."""

from __future__ import annotations

import json

import pytest

from airflow_stack import bootstrap, cli
from standin.stand_in import ACCOUNT, running_stand_in

REGION = "us-gov-east-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture
def stand_in(tmp_path):
    with running_stand_in(tmp_path / "stand-in") as stand_in:
        yield stand_in


def role_with(stand_in, name: str, policy: dict) -> dict[str, str]:
    iam = stand_in.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="bootstrap", PolicyDocument=json.dumps(policy))
    return stand_in.credentials(name)


def run(stand_in, credentials, capsys, *extra: str) -> tuple[int, str]:
    code = cli.run(
        ["bootstrap", "--region", REGION, *extra],
        make_clients=lambda region: lambda service: stand_in.client(service, credentials),
    )
    out = capsys.readouterr()
    return code, out.out + out.err


def test_bootstrap_creates_the_state_bucket_and_key_once_with_the_policy_it_prints(stand_in, capsys):
    code, printed = run(stand_in, None, capsys, "--print-policy")
    assert code == 0
    policy = json.loads(printed)
    bucket = bootstrap.state_bucket_name(ACCOUNT, REGION)
    assert policy == bootstrap.bootstrap_policy("aws-us-gov", ACCOUNT, REGION, bucket)
    credentials = role_with(stand_in, "platform-bootstrap", policy)

    code, printed = run(stand_in, credentials, capsys)
    assert code == 0, printed
    assert f"created: S3 bucket {bucket}" in printed and "created: KMS key" in printed
    assert f"pulumi login 's3://{bucket}?region={REGION}&awssdk=v2'" in printed
    assert f"--secrets-provider 'awskms://{bootstrap.KEY_ALIAS}?region={REGION}'" in printed
    assert [e for e in stand_in.refusals() if "platform-bootstrap" in e["principal"]] == []

    s3, kms = stand_in.client("s3"), stand_in.client("kms")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    statement = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (alias,) = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == bootstrap.KEY_ALIAS]
    assert kms.get_key_rotation_status(KeyId=alias["TargetKeyId"])["KeyRotationEnabled"]

    code, printed = run(stand_in, credentials, capsys)  # again: idempotent
    assert code == 0 and "nothing to create" in printed and "created:" not in printed
    assert len([a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == bootstrap.KEY_ALIAS]) == 1
    assert [e for e in stand_in.refusals() if "platform-bootstrap" in e["principal"]] == []


def test_one_permission_less_is_refused_naming_the_call(stand_in, capsys):
    policy = bootstrap.bootstrap_policy("aws-us-gov", ACCOUNT, REGION, bootstrap.state_bucket_name(ACCOUNT, REGION))
    policy["Statement"][0]["Action"].remove("s3:PutBucketPolicy")
    credentials = role_with(stand_in, "platform-bootstrap", policy)
    code, printed = run(stand_in, credentials, capsys)
    assert code == cli.EXIT_AWS and "AccessDenied" in printed and "Traceback" not in printed
    refused = [e for e in stand_in.refusals() if "platform-bootstrap" in e["principal"]]
    assert refused and refused[0]["operation"] == "s3:PutBucketPolicy"


def test_a_bad_bucket_name_is_refused_before_any_call(capsys):
    asked: list[str] = []

    def clients(region: str):
        asked.append(region)
        return lambda service: None

    code = cli.run(["bootstrap", "--region", REGION, "--bucket", "Bad_Name"], make_clients=clients)
    assert code == 2 and "--bucket must be an S3 bucket name" in capsys.readouterr().err and asked == []
