"""One Airflow component on ECS Fargate: its log group, its two roles, its task definition, its service.

Every service is declared with desired count 0 and `ignore_changes` on the desired count: the waker
owns the count, and `pulumi up` never undoes what it set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import iam_policies
from infra.airflow_env import SecretArns, secret_arns_for
from infra.components.roles import ServiceRole, service_role
from infra.stack_context import StackContext

DESIRED_COUNT_IS_THE_WAKERS = ["desiredCount"]
CPU_ARCHITECTURES = {"arm64": "ARM64", "x86_64": "X86_64"}

# Workers on Spot keep their first task on FARGATE (base 1, weight 0: every further task goes to Spot). ECS
# does not fall back from a capacity provider that cannot place a task, so without the base a Region or a
# moment without Spot capacity would queue every task until `task_queued_timeout` fails it.
SPOT_WITH_FARGATE_BASE = (
    {"capacity_provider": "FARGATE", "base": 1, "weight": 0},
    {"capacity_provider": "FARGATE_SPOT", "weight": 1},
)


def capacity_providers(worker_spot: bool) -> list[str]:
    """The cluster's capacity providers: FARGATE_SPOT only for a stack whose workers use it."""
    return ["FARGATE", "FARGATE_SPOT"] if worker_spot else ["FARGATE"]


@dataclass(frozen=True)
class TaskRoles:
    execution: ServiceRole
    task: ServiceRole


def task_roles(
    name: str,
    context: StackContext,
    *,
    parent: pulumi.Resource,
    component: str,
    repository_arn: pulumi.Input[str],
    log_group_arn: pulumi.Input[str],
    secret_arns: SecretArnsInput,
    task_policy: pulumi.Input[str] | None,
) -> TaskRoles:
    """A component's execution role (start the task) and task role (what its code may do)."""
    execution_policy = pulumi.Output.all(repository_arn, log_group_arn, secret_arns.resolve()).apply(
        lambda v: json.dumps(
            iam_policies.task_execution(
                repository_arn=v[0],
                log_group_arn=v[1],
                secret_arns=secret_arns_for(component, v[2]),
            )
        )
    )
    execution = service_role(
        f"{name}-execution",
        context,
        service="ecs-tasks",
        parent=parent,
        description=f"{component}: start the task",
        policy=execution_policy,
    )
    task = service_role(
        f"{name}-task",
        context,
        service="ecs-tasks",
        parent=parent,
        description=f"{component}: what Airflow does",
        policy=task_policy,
    )
    return TaskRoles(execution, task)


@dataclass(frozen=True)
class SecretArnsInput:
    """The secret ARNs as Pulumi inputs, resolved together into plain `SecretArns`."""

    airflow: pulumi.Input[str]

    def resolve(self) -> pulumi.Output[SecretArns]:
        return pulumi.Output.from_input(self.airflow).apply(SecretArns)


@dataclass(frozen=True)
class AirflowServiceArgs:
    context: StackContext
    component: str
    cluster_arn: pulumi.Input[str]
    containers: pulumi.Output[list[dict[str, Any]]]  # from airflow_env.container_definitions
    roles: TaskRoles
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    service_registry_arn: pulumi.Input[str] | None = None
    target_group_arn: pulumi.Input[str] | None = None
    enable_execute_command: bool = False  # ECS Exec: `airflow-stack ui`'s port forward (the api-server only)
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


class AirflowService(pulumi.ComponentResource):
    def __init__(self, name: str, args: AirflowServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:services:AirflowService", name, None, opts)
        context = args.context
        size = context.settings.services.sizes[args.component]
        child = pulumi.ResourceOptions(parent=self)

        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=f"{context.name}-{args.component}",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(size.cpu),
            memory=str(size.memory_mb),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX",
                cpu_architecture=CPU_ARCHITECTURES[context.settings.image.architecture],
            ),
            execution_role_arn=args.roles.execution.arn,
            task_role_arn=args.roles.task.arn,
            container_definitions=args.containers.apply(json.dumps),
            opts=child,
        )

        spot = args.component == "worker" and context.settings.services.worker_spot
        self.service = aws.ecs.Service(
            f"{name}-service",
            name=args.component,
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=0,
            launch_type=None if spot else "FARGATE",
            capacity_provider_strategies=[
                aws.ecs.ServiceCapacityProviderStrategyArgs(**strategy) for strategy in SPOT_WITH_FARGATE_BASE
            ]
            if spot
            else None,
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.subnet_ids,
                security_groups=list(args.security_group_ids),
                assign_public_ip=context.settings.network.assign_public_ip,
            ),
            service_registries=aws.ecs.ServiceServiceRegistriesArgs(registry_arn=args.service_registry_arn)
            if args.service_registry_arn is not None
            else None,
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target_group_arn,
                    container_name=args.component,
                    container_port=8080,
                )
            ]
            if args.target_group_arn is not None
            else None,
            health_check_grace_period_seconds=300 if args.target_group_arn is not None else None,
            # Deploys roll forward: after a schema migration, a rollback would start the old image against the new
            # schema (its wait-for-migrations fails) while Pulumi's state names the new task definition. The
            # breaker still marks a deployment that cannot start as failed, which the waker's notices report.
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=False),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            enable_ecs_managed_tags=True,
            enable_execute_command=args.enable_execute_command,
            propagate_tags="SERVICE",
            wait_for_steady_state=False,
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=DESIRED_COUNT_IS_THE_WAKERS, depends_on=list(args.depends_on)
            ),
        )
        self.service_name = self.service.name
        self.register_outputs({"serviceName": self.service_name, "taskDefinition": self.task_definition.arn})
