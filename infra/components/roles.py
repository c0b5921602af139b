"""IAM roles for AWS services acting for the stack: trusted by one service in this account, one policy."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

import iam_policies
from stack_context import StackContext


def service_role(
    name: str,
    context: StackContext,
    *,
    service: str,
    description: str,
    policy: pulumi.Input[str] | None,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """A role only `service` (e.g. "lambda") in this account may assume, with `policy` inline (None: nothing)."""
    child = pulumi.ResourceOptions(parent=parent)
    trust = json.dumps(iam_policies.assume_role(context.service_principal(service), context.account_id))
    role = aws.iam.Role(name, assume_role_policy=trust, description=f"{context.name}: {description}", opts=child)
    if policy is not None:
        aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=child)
    return role
