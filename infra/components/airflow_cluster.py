"""Airflow 3 on one ECS cluster: api-server, scheduler, dag-processor, triggerer and Celery workers.

Builds the one shared environment, a log group per component, the Cloud Map name through which
workers and the scheduler reach the api-server's Execution API, the migration that runs before any
component of a new version, and one `AirflowService` per enabled component (all at desired count 0).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from contracts.components import API_SERVER
from contracts.stacks import component_log_group
from contracts.waker import task_queued_timeout_seconds
from infra import iam_policies
from infra.airflow_env import (
    API_SERVER_PORT,
    AirflowEndpoints,
    airflow_environment,
    component_environment,
    container_definitions,
    migration_container_definitions,
)
from infra.components.airflow_service import (
    AirflowService,
    AirflowServiceArgs,
    SecretArnsInput,
    capacity_providers,
    task_roles,
)
from infra.components.migration import Migration, MigrationArgs
from infra.stack_context import StackContext

# Where DAG code runs: tasks on workers, deferred parts and asset watchers in the triggerer.
DAG_TASK_RUNNERS = ("worker", "triggerer")


@dataclass(frozen=True)
class AirflowClusterArgs:
    context: StackContext
    image_uri: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    task_subnet_ids: pulumi.Input[Sequence[str]]
    tasks_security_group_id: pulumi.Input[str]
    api_server_security_group_id: pulumi.Input[str]
    worker_security_group_id: pulumi.Input[str]
    triggerer_security_group_id: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    queue_url: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    secret_arns: SecretArnsInput
    database_identifier: pulumi.Input[str]
    database_arn: pulumi.Input[str]
    database_ready: list[pulumi.Resource]
    database_resource_id: pulumi.Input[str]
    secrets_version: pulumi.Input[str]  # the stack's secret's current version: the migration runs for a new one
    secrets_ready: list[pulumi.Resource]
    ui_url: pulumi.Input[str] | None
    target_group_arn: pulumi.Input[str] | None
    # The listener that uses the target group: ECS refuses a service whose target group has no load balancer.
    load_balancer_ready: list[pulumi.Resource] = field(default_factory=list)


class AirflowCluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: AirflowClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:services:AirflowCluster", name, None, opts)
        context = args.context
        settings = context.settings
        child = pulumi.ResourceOptions(parent=self)

        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=context.name,
            settings=[
                aws.ecs.ClusterSettingArgs(
                    name="containerInsights",
                    value="enabled" if settings.services.container_insights else "disabled",
                )
            ],
            opts=child,
        )
        # Services using FARGATE_SPOT wait for it to be associated with the cluster. It is associated only
        # when the workers use it: GovCloud's Fargate documents no Spot, and a default stack must deploy
        # without it.
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=self.cluster.name,
            capacity_providers=capacity_providers(settings.services.worker_spot),
            opts=child,
        )

        namespace_name = f"{context.name}.internal"
        namespace = aws.servicediscovery.PrivateDnsNamespace(
            f"{name}-namespace",
            name=namespace_name,
            vpc=args.vpc_id,
            description=f"{context.name}: how workers reach the api-server's Execution API",
            opts=child,
        )
        api_registry = aws.servicediscovery.Service(
            f"{name}-api-server-registry",
            name="api-server",
            dns_config=aws.servicediscovery.ServiceDnsConfigArgs(
                namespace_id=namespace.id,
                dns_records=[aws.servicediscovery.ServiceDnsConfigDnsRecordArgs(type="A", ttl=10)],
                routing_policy="MULTIVALUE",
            ),
            force_destroy=True,
            opts=child,
        )
        internal_api = f"http://api-server.{namespace_name}:{API_SERVER_PORT}"

        endpoints = pulumi.Output.all(args.bucket_name, args.queue_url, args.ui_url or internal_api).apply(
            lambda v: AirflowEndpoints(
                region=context.region,
                bucket=v[0],
                broker_queue_url=v[1],
                execution_api_url=f"{internal_api}/execution/",
                base_url=v[2],
                connections_prefix=f"{context.name}/connections",
                variables_prefix=f"{context.name}/variables",
                worker_concurrency=settings.services.worker_concurrency,
                broker_visibility_timeout_seconds=settings.broker_visibility_timeout_seconds,
                task_queued_timeout_seconds=task_queued_timeout_seconds(settings.waker),
            )
        )
        # The stack's own settings come last: a stack's extra environment cannot override them.
        environment = endpoints.apply(lambda e: {**settings.services.environment, **airflow_environment(e)})
        secrets_backend_arns = [
            context.arn("secretsmanager", f"secret:{context.name}/{kind}/*") for kind in ("connections", "variables")
        ]

        def log_group(component: str) -> aws.cloudwatch.LogGroup:
            return aws.cloudwatch.LogGroup(
                f"{name}-{component}-logs",
                name=component_log_group(context.name, component),
                retention_in_days=settings.log_retention_days,
                opts=child,
            )

        migrate_logs = log_group("migrate")
        self.migration = Migration(
            f"{name}-migration",
            MigrationArgs(
                context=context,
                cluster_arn=self.cluster.arn,
                cluster_name=self.cluster.name,
                containers=pulumi.Output.all(
                    args.image_uri, environment, args.secret_arns.resolve(), migrate_logs.name
                ).apply(
                    lambda v: migration_container_definitions(
                        image=v[0],
                        environment=v[1],
                        arns=v[2],
                        log_group=v[3],
                        region=context.region,
                        restored_from_snapshot=settings.database.restore_from_snapshot,
                    )
                ),
                repository_arn=args.repository_arn,
                log_group_arn=migrate_logs.arn,
                secret_arns=args.secret_arns,
                subnet_ids=args.task_subnet_ids,
                security_group_ids=[args.tasks_security_group_id],
                database_identifier=args.database_identifier,
                database_arn=args.database_arn,
                database_ready=args.database_ready,
                database_resource_id=args.database_resource_id,
                secrets_version=args.secrets_version,
                secrets_ready=args.secrets_ready,
            ),
            opts=child,
        )

        self.services: dict[str, AirflowService] = {}
        self.log_groups: dict[str, pulumi.Output[str]] = {"migrate": migrate_logs.name}
        for component in settings.services.enabled:
            logs = log_group(component)
            self.log_groups[component] = logs.name
            task_policy = pulumi.Output.all(args.bucket_arn, args.queue_arn).apply(
                lambda v, c=component: json.dumps(
                    iam_policies.airflow_task(
                        c,
                        bucket_arn=v[0],
                        queue_arn=v[1],
                        secrets_backend_arns=secrets_backend_arns,
                        metric_namespace=context.metric_namespace,
                        event_queue_arns=settings.waker.event_queue_arns,
                        cluster_tasks_arn=context.arn("ecs", f"task/{context.name}/*"),
                        exec_channels=c == API_SERVER and settings.ui.port_forward,
                    )
                )
            )
            roles = task_roles(
                f"{name}-{component}",
                context,
                parent=self,
                component=component,
                repository_arn=args.repository_arn,
                log_group_arn=logs.arn,
                secret_arns=args.secret_arns,
                task_policy=task_policy,
            )
            if component in DAG_TASK_RUNNERS:
                for index, policy_arn in enumerate(settings.services.worker_policy_arns):
                    aws.iam.RolePolicyAttachment(
                        f"{name}-{component}-dag-access-{index}",
                        role=roles.task.name,
                        policy_arn=policy_arn,
                        opts=child,
                    )
            containers = pulumi.Output.all(args.image_uri, environment, args.secret_arns.resolve(), logs.name).apply(
                lambda v, c=component: container_definitions(
                    c,
                    image=v[0],
                    environment=v[1],
                    arns=v[2],
                    log_group=v[3],
                    region=context.region,
                    metric_namespace=context.metric_namespace,
                    own_environment=component_environment(
                        c,
                        protection_minutes=settings.broker_visibility_timeout_seconds // 60,
                        built_image=settings.image.uri is None,
                    ),
                )
            )
            groups = [args.tasks_security_group_id]
            if component == "api-server":
                groups.append(args.api_server_security_group_id)
            if component == "worker":
                groups.append(args.worker_security_group_id)
            if component == "triggerer":
                groups.append(args.triggerer_security_group_id)
            self.services[component] = AirflowService(
                f"{name}-{component}",
                AirflowServiceArgs(
                    context=context,
                    component=component,
                    cluster_arn=self.cluster.arn,
                    containers=containers,
                    roles=roles,
                    subnet_ids=args.task_subnet_ids,
                    security_group_ids=groups,
                    service_registry_arn=api_registry.arn if component == "api-server" else None,
                    target_group_arn=args.target_group_arn if component == "api-server" else None,
                    enable_execute_command=component == API_SERVER and settings.ui.port_forward,
                    depends_on=[
                        self.migration.invocation,
                        capacity,
                        *(args.load_balancer_ready if component == "api-server" else []),
                    ],
                ),
                opts=child,
            )

        self.cluster_name = self.cluster.name
        self.service_names = {component: service.service_name for component, service in self.services.items()}
        self.execution_api_url = f"{internal_api}/execution/"
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "serviceNames": self.service_names,
                "logGroups": self.log_groups,
            }
        )
