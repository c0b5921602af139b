"""Every IAM policy the program declares, linted by parliament (https://github.com/duo-labs/parliament).

Parliament knows each action's resource types and condition keys from AWS's Service Authorization
Reference: a grant on an ARN of the wrong shape, an unknown action or condition key, or a malformed
statement fails here. Three of its findings are known to be wrong for the documents below, and only those
are excused, each for a stated reason:
- trust policies and other resource policies have a Principal and may omit Resource; parliament reads
  every document as an identity policy;
- in a KMS key policy, "Resource": "*" means the key itself
  (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html);
- for actions whose reference lists several resource types as required (e.g. ModifyRule: an
  application or a network load balancer's rule), parliament wants every type matched; one is enough;
- `ecs:ListTasks` on "*" limited by an `ecs:cluster` condition is how ECS's guide grants listing a cluster's
  tasks (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security_iam_id-based-policy-examples.html):
  Fargate tasks have no container instance, the resource type parliament expects.
"""

from __future__ import annotations

import json
import re
import warnings

from offline.constraints.recorded import plain
from offline.recording import Recording

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # parliament imports pkg_resources
    from parliament import analyze_policy_string

DOCUMENTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:kms/key:Key": "policy",
}
RESOURCE_POLICIES = {
    "aws:iam/role:Role",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:kms/key:Key",
}


def _excused(type_: str, document: dict, issue: str, detail) -> bool:
    if type_ in RESOURCE_POLICIES and issue == "MALFORMED" and "neither Resource nor NotResource" in str(detail):
        return all("Principal" in s for s in document["Statement"])
    if type_ == "aws:kms/key:Key" and issue == "RESOURCE_STAR":
        return True
    if issue == "RESOURCE_STAR" and detail == ["ecs:ListTasks"]:
        return all(
            "ecs:cluster" in str(s.get("Condition", {}))
            for s in document["Statement"]
            if "ecs:ListTasks" in s.get("Action", [])
        )
    if issue == "RESOURCE_MISMATCH":
        # Excused only when each flagged action's resources match another of its required formats.
        granted = [r for s in document["Statement"] for r in s.get("Resource", [])]
        formats = {d["action"]: d["required_format"] for d in detail}
        return all(
            any(re.fullmatch(_alternative(f).replace("*", "[^:]*"), r) for r in granted) for f in formats.values()
        )
    return False


def _alternative(required_format: str) -> str:
    """The application load balancer's form of a network load balancer's ARN format, and back."""
    return (
        required_format.replace("/net/", "/app/")
        if "/net/" in required_format
        else required_format.replace("/app/", "/net/")
    )


def findings(recording: Recording) -> list[str]:
    found = []
    for type_, field in DOCUMENTS.items():
        for resource in recording.of_type(type_):
            text = plain(resource.inputs.get(field))
            if not text:
                continue
            text = text if isinstance(text, str) else json.dumps(text)
            document = json.loads(text)
            analysis = analyze_policy_string(text, include_community_auditors=False)
            for finding in analysis.findings:
                if not _excused(type_, document, finding.issue, finding.detail):
                    found.append(f"{resource.name}: {finding.issue} {json.dumps(finding.detail)[:300]}")
    return found


def test_every_declared_policy_passes_parliament(recording: Recording):
    assert findings(recording) == []


def test_parliament_catches_a_grant_on_the_wrong_kind_of_resource(recordings):
    """The lint is live: a GetObject granted on the bucket (not its objects) is caught."""
    bad = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws-us-gov:s3:::b"]}],
        }
    )
    assert [f.issue for f in analyze_policy_string(bad).findings] == ["RESOURCE_MISMATCH"]
