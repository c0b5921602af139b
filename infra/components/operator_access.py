"""What operators need, as one managed policy to attach to their roles (or an SSO permission set).

Covers `airflow-stack status | wake | sleep | snapshot | stage` on this stack and `make deploy-dags` (the
DAG bundle, then a wake request), scoped to this stack's resources. Exported as `operatorPolicyArn`.
`airflow-stack preflight` is for whoever runs `pulumi up`, whose permissions are broader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from contracts.components import PORT_FORWARD_DOCUMENT
from contracts.stacks import iam_path
from infra import iam_policies
from infra.airflow_env import DAGS_PREFIX
from infra.stack_context import StackContext


@dataclass(frozen=True)
class OperatorAccessArgs:
    context: StackContext
    waker_function_arn: pulumi.Input[str]
    database_arn: pulumi.Input[str]
    database_identifier: pulumi.Input[str]
    database_key_arn: pulumi.Input[str]  # the KMS key the database (and so its snapshots) is encrypted with
    bucket_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    service_names: Mapping[str, pulumi.Input[str]]
    migration_status_arn: pulumi.Input[str]


def snapshot_patterns(context: StackContext, database_identifier: str) -> list[str]:
    """This stack's snapshots and no other's: `airflow-stack snapshot` names them `<db>-YYYYMMDD-HHMMSS` and RDS
    names its automated ones `rds:<db>-YYYY-MM-DD-HH-MM`. IAM's `?` is exactly one character, so a stack whose
    name extends this one's (`dev-2` beside `dev`) gives names these patterns cannot match, as `<db>-*` would."""
    return [
        context.arn("rds", f"snapshot:{database_identifier}-????????-??????"),
        context.arn("rds", f"snapshot:rds:{database_identifier}-????-??-??-??-??"),
    ]


def operator_policy(
    context: StackContext,
    *,
    waker_function_arn: str,
    database_arn: str,
    database_identifier: str,
    database_key_arn: str,
    bucket_arn: str,
    cluster_name: str,
    service_names: list[str],
    migration_status_arn: str,
) -> dict[str, Any]:
    snapshots = snapshot_patterns(context, database_identifier)
    return iam_policies.policy(
        # status, wake, sleep (and deploy-dags's wake request) ask the waker
        iam_policies.allow(["lambda:InvokeFunction"], [waker_function_arn]),
        # status: the database, the last migration, the services (and --wait follows them)
        iam_policies.allow(["rds:DescribeDBInstances"], [database_arn]),
        iam_policies.allow(["ssm:GetParameter"], [migration_status_arn]),
        iam_policies.allow(
            ["ecs:DescribeServices"], [context.arn("ecs", f"service/{cluster_name}/{name}") for name in service_names]
        ),
        # snapshot: a manual snapshot of this stack's database, tagged, then waited for;
        # stage --from this stack: its snapshots and their key
        iam_policies.allow(["rds:CreateDBSnapshot", "rds:DescribeDBSnapshots"], [database_arn, *snapshots]),
        iam_policies.allow(["rds:AddTagsToResource"], [snapshots[0]]),
        iam_policies.allow(["kms:DescribeKey"], [database_key_arn]),
        # deploy-dags: sync dags/ in the bundle
        iam_policies.allow(["s3:ListBucket"], [bucket_arn]),
        iam_policies.allow(["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], [f"{bucket_arn}/{DAGS_PREFIX}*"]),
        *(port_forward(context, cluster_name) if context.settings.ui.port_forward else []),
    )


def port_forward(context: StackContext, cluster_name: str) -> list[dict[str, Any]]:
    """`airflow-stack ui`: find the api-server's task, then forward a local port to it. Session Manager authorises a
    session to an ECS task as `ssm:StartSession` on the task and on the session document (Service Authorization
    Reference, AWS Systems Manager), so the port-forwarding document alone is granted: no shell in a container,
    and no `ecs:ExecuteCommand` (which would open one, with the container's secrets in reach)."""
    tasks = context.arn("ecs", f"task/{cluster_name}/*")
    return [
        iam_policies.allow(
            ["ecs:ListTasks"], ["*"], {"ArnEquals": {"ecs:cluster": context.arn("ecs", f"cluster/{cluster_name}")}}
        ),
        iam_policies.allow(["ecs:DescribeTasks"], [tasks]),
        iam_policies.allow(
            ["ssm:StartSession"],
            [tasks, f"arn:{context.partition}:ssm:{context.region}::document/{PORT_FORWARD_DOCUMENT}"],
        ),
        # The AWS CLI ends its session when the forward stops (session IDs are the caller's, named by AWS).
        iam_policies.allow(["ssm:TerminateSession"], [context.arn("ssm", "session/*")]),
    ]


class OperatorAccess(pulumi.ComponentResource):
    policy_arn: pulumi.Output[str]

    def __init__(self, name: str, args: OperatorAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:access:OperatorAccess", name, None, opts)
        context = args.context
        names = list(args.service_names.values())
        document = pulumi.Output.all(
            args.waker_function_arn,
            args.database_arn,
            args.database_identifier,
            args.bucket_arn,
            args.cluster_name,
            args.migration_status_arn,
            args.database_key_arn,
            *names,
        ).apply(
            lambda v: json.dumps(
                operator_policy(
                    context,
                    waker_function_arn=v[0],
                    database_arn=v[1],
                    database_identifier=v[2],
                    bucket_arn=v[3],
                    cluster_name=v[4],
                    migration_status_arn=v[5],
                    database_key_arn=v[6],
                    service_names=list(v[7:]),
                )
            )
        )
        policy = aws.iam.Policy(
            f"{name}-policy",
            name=f"{context.name}-operator",
            path=iam_path(context.name),
            description=f"{context.name}: airflow-stack status, wake, sleep, snapshot, stage; make deploy-dags",
            policy=document,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.policy_arn = policy.arn
        self.register_outputs({"policyArn": policy.arn})
