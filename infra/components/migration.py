"""`airflow db migrate` once per image version, before any component of that version starts.

A one-off ECS task definition runs the migration (and creates the first admin user); a small Lambda runs
it and waits, and `pulumi up` invokes the Lambda whenever the migration task definition changes (a new
image or a new environment). The Airflow services depend on that invocation: if the migration fails the
update stops there and the services stay on their previous task definitions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from contracts.stacks import waker_function_name
from contracts.waker import WAKER_FUNCTION_VARIABLE
from infra import iam_policies
from infra.components.airflow_service import CPU_ARCHITECTURES, SecretArnsInput, task_roles
from infra.components.python_lambda import lambda_log_group, python_lambda
from infra.components.roles import service_role
from infra.stack_context import StackContext

TIMEOUT_SECONDS = 900
MIGRATE_CPU = 512
MIGRATE_MEMORY_MB = 2048


@dataclass(frozen=True)
class MigrationArgs:
    context: StackContext
    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    containers: pulumi.Output[list[dict[str, Any]]]
    repository_arn: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]
    secret_arns: SecretArnsInput
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: list[pulumi.Input[str]]
    database_identifier: pulumi.Input[str]
    database_arn: pulumi.Input[str]
    database_ready: list[pulumi.Resource]
    database_resource_id: pulumi.Input[str]  # changes with each new instance: the guard runs for each
    secrets_version: pulumi.Input[str]  # changes with each new secret value: passwords are set again
    secrets_ready: list[pulumi.Resource]  # the secret values the migration task reads


def runner_policy(
    *,
    ecs_arn_prefix: str,
    cluster_arn: str,
    cluster_name: str,
    family: str,
    role_arns: list[str],
    ecs_tasks_principal: str,
    database_arn: str,
    log_group_arn: str,
    status_parameter_arn: str,
    waker_function_arn: str,
) -> dict[str, Any]:
    """The runner may start this stack's migration task, watch it, start this stack's database, and record
    the outcome."""
    task_definitions = f"{ecs_arn_prefix}task-definition/{family}:*"
    return iam_policies.policy(
        iam_policies.allow(["ecs:RunTask"], [task_definitions], {"ArnEquals": {"ecs:cluster": cluster_arn}}),
        iam_policies.allow(["ecs:DescribeTasks"], [f"{ecs_arn_prefix}task/{cluster_name}/*"]),
        iam_policies.allow(["iam:PassRole"], role_arns, {"StringEquals": {"iam:PassedToService": ecs_tasks_principal}}),
        iam_policies.allow(["rds:DescribeDBInstances", "rds:StartDBInstance"], [database_arn]),
        iam_policies.allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:log-stream:*"]),
        iam_policies.allow(["ssm:PutParameter"], [status_parameter_arn]),
        # Hold the database for the migration (a deploy hold); after a restore, tell the waker the guard has run.
        iam_policies.allow(["lambda:InvokeFunction"], [waker_function_arn]),
    )


class Migration(pulumi.ComponentResource):
    def __init__(self, name: str, args: MigrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:migration:Migration", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        family = f"{context.name}-migrate"

        roles = task_roles(
            f"{name}-task",
            context,
            parent=self,
            component="migrate",
            repository_arn=args.repository_arn,
            log_group_arn=args.log_group_arn,
            secret_arns=args.secret_arns,
            task_policy=None,
        )
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(MIGRATE_CPU),
            memory=str(MIGRATE_MEMORY_MB),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX",
                cpu_architecture=CPU_ARCHITECTURES[context.settings.image.architecture],
            ),
            execution_role_arn=roles.execution.arn,
            task_role_arn=roles.task.arn,
            container_definitions=args.containers.apply(json.dumps),
            opts=child,
        )

        runner_logs = lambda_log_group(f"{name}-runner-logs", context, f"{context.name}-migrate", self)
        self.status = aws.ssm.Parameter(
            f"{name}-status",
            name=f"/{context.name}/migration/status",
            type="String",
            value="{}",
            description=f"{context.name}: outcome of the last airflow db migrate",
            # The runner writes this parameter; `pulumi up` leaves its value alone.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
        )
        runner_role = service_role(
            f"{name}-runner",
            context,
            service="lambda",
            description="runs airflow db migrate",
            parent=self,
            policy=pulumi.Output.all(
                args.cluster_arn,
                args.cluster_name,
                roles.execution.arn,
                roles.task.arn,
                args.database_arn,
                runner_logs.arn,
                self.status.arn,
            ).apply(
                lambda v: json.dumps(
                    runner_policy(
                        ecs_arn_prefix=context.arn("ecs", ""),
                        cluster_arn=v[0],
                        cluster_name=v[1],
                        family=family,
                        role_arns=[v[2], v[3]],
                        ecs_tasks_principal=context.service_principal("ecs-tasks"),
                        database_arn=v[4],
                        log_group_arn=v[5],
                        status_parameter_arn=v[6],
                        waker_function_arn=context.arn("lambda", f"function:{context.name}-waker"),
                    )
                )
            ),
        )
        self.runner = python_lambda(
            f"{name}-runner",
            context,
            parent=self,
            function_name=f"{context.name}-migrate",
            package="migrator",
            description="Runs airflow db migrate once per image version (invoked by pulumi up)",
            role_arn=runner_role.arn,
            log_group=runner_logs,
            timeout=TIMEOUT_SECONDS,
            memory_size=128,
            environment={
                "CLUSTER": args.cluster_name,
                "SUBNETS": pulumi.Output.from_input(args.subnet_ids).apply(",".join),
                "SECURITY_GROUPS": pulumi.Output.all(*args.security_group_ids).apply(",".join),
                "ASSIGN_PUBLIC_IP": str(context.settings.network.assign_public_ip).lower(),
                "DB_INSTANCE_ID": args.database_identifier,
                "STATUS_PARAMETER": self.status.name,
                WAKER_FUNCTION_VARIABLE: waker_function_name(context.name),
                "RESTORED": "true" if context.settings.database.restore_from_snapshot else "",
            },
        )
        self.invocation = aws.lambda_.Invocation(
            f"{name}-run",
            function_name=self.runner.name,
            # A new task definition or a new database instance (a restore) runs the migration, and the guard; a
            # new secret value runs it too, so the admin's and the result backend's passwords are set again.
            input=pulumi.Output.all(self.task_definition.arn, args.database_resource_id, args.secrets_version).apply(
                lambda v: json.dumps({"taskDefinitionArn": v[0], "databaseId": v[1], "secretVersion": v[2]})
            ),
            # The task starts only once its secrets hold values and its roles may read them and run it.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *args.database_ready,
                    *args.secrets_ready,
                    *roles.execution.ready,
                    *runner_role.ready,
                    self.runner,
                ],
            ),
        )
        self.register_outputs({"taskDefinition": self.task_definition.arn, "runner": self.runner.name})
