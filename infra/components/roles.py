"""IAM roles for AWS services acting for the stack: trusted by one service in this account, one policy."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts.stacks import iam_path
from infra import iam_policies
from infra.stack_context import StackContext


@dataclass(frozen=True)
class ServiceRole:
    role: aws.iam.Role
    policy: aws.iam.RolePolicy | None

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.role.arn

    @property
    def name(self) -> pulumi.Output[str]:
        return self.role.name

    @property
    def ready(self) -> list[pulumi.Resource]:
        """What to wait for before the role can be used: the role and its policy."""
        return [self.role, *([self.policy] if self.policy else [])]


def service_role(
    name: str,
    context: StackContext,
    *,
    service: str,
    description: str,
    policy: pulumi.Input[str] | None,
    parent: pulumi.Resource,
) -> ServiceRole:
    """A role only `service` (e.g. "lambda") in this account may assume, with `policy` inline (None: nothing)."""
    child = pulumi.ResourceOptions(parent=parent)
    trust = json.dumps(iam_policies.assume_role(context.service_principal(service), context.account_id))
    role = aws.iam.Role(
        name,
        path=iam_path(context.name),
        assume_role_policy=trust,
        description=f"{context.name}: {description}",
        opts=child,
    )
    inline = aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=child) if policy is not None else None
    return ServiceRole(role, inline)
