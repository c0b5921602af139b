"""Who is who in the stand-in AWS: the admin that seeds it, and a role's identity policies as its IAM holds
them (what every request signed with the role's credentials is judged by)."""

from __future__ import annotations

import json
from typing import Any

ADMIN_KEY = "AKIASTANDINADMIN0000"
ADMIN_SECRET = "stand-in-admin-secret"  # noqa: S105 (a fixed key of a local stand-in, not a secret)


def role_policies(account: str, partition: str, role_name: str) -> list[dict[str, Any]]:
    """The identity policies of a role as the server's IAM holds them: inline, then attached managed."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account][partition]
    documents = []
    for name in iam.list_role_policies(role_name):
        _, document = iam.get_role_policy(role_name, name)
        documents.append(json.loads(document) if isinstance(document, str) else document)
    attached, _ = iam.list_attached_role_policies(role_name)
    for policy in attached:
        try:
            managed = iam.get_policy(policy.arn)
        except Exception:  # noqa: S112 (an AWS-managed policy the stand-in does not carry grants nothing here)
            continue
        version = next(v for v in managed.versions if v.is_default)
        documents.append(json.loads(version.document) if isinstance(version.document, str) else version.document)
    return documents
