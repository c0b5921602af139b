"""The VPC, subnets and security groups: who may talk to whom.

A new VPC has public subnets for the Fargate tasks (public IPs, no NAT gateway: cheapest) or, with
`natGateway: single`, private task subnets behind one NAT; the database always sits in isolated subnets
with no route to or from the internet. An existing VPC is used as given.

Security groups admit nothing from outside except through the load balancer: the api-server accepts
8080 from the load balancer and from the other Airflow tasks (Execution API); the worker's log server
accepts 8793 and the triggerer's 8794 from the api-server only (live logs); the database accepts 5432 from the
Airflow tasks only. A load balancer with OIDC may call out on 443: it talks to the identity provider itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.airflow_env import API_SERVER_PORT, TRIGGERER_LOG_SERVER_PORT, WORKER_LOG_SERVER_PORT
from infra.stack_context import StackContext

POSTGRES_PORT = 5432
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class NetworkArgs:
    context: StackContext


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    task_subnet_ids: pulumi.Output[Sequence[str]]
    load_balancer_subnet_ids: pulumi.Output[Sequence[str]]
    database_subnet_ids: pulumi.Output[Sequence[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:network:Network", name, None, opts)
        context = args.context
        settings = context.settings.network
        child = pulumi.ResourceOptions(parent=self)

        if settings.creates_vpc:
            specs = [awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, cidr_mask=22)]
            if settings.nat_gateway == "single":
                specs.append(awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, cidr_mask=22))
            specs.append(awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.ISOLATED, cidr_mask=24))
            vpc = awsx.ec2.Vpc(
                f"{name}-vpc",
                cidr_block=settings.vpc_cidr,
                number_of_availability_zones=settings.availability_zones,
                subnet_specs=specs,
                nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(
                    strategy=awsx.ec2.NatGatewayStrategy.SINGLE
                    if settings.nat_gateway == "single"
                    else awsx.ec2.NatGatewayStrategy.NONE
                ),
                enable_dns_hostnames=True,
                enable_dns_support=True,
                tags={"Name": context.name},
                opts=child,
            )
            self.vpc_id = vpc.vpc_id
            self.vpc_cidr = pulumi.Output.from_input(settings.vpc_cidr)
            self.load_balancer_subnet_ids = vpc.public_subnet_ids
            self.task_subnet_ids = vpc.public_subnet_ids if settings.nat_gateway == "none" else vpc.private_subnet_ids
            self.database_subnet_ids = vpc.isolated_subnet_ids
        else:
            assert settings.vpc_id is not None
            existing = aws.ec2.get_vpc_output(id=settings.vpc_id, opts=pulumi.InvokeOutputOptions(parent=self))
            self.vpc_id = pulumi.Output.from_input(settings.vpc_id)
            self.vpc_cidr = existing.cidr_block
            self.task_subnet_ids = pulumi.Output.from_input(list(settings.task_subnet_ids))
            self.load_balancer_subnet_ids = pulumi.Output.from_input(list(settings.load_balancer_subnet_ids))
            self.database_subnet_ids = pulumi.Output.from_input(list(settings.database_subnet_ids))

        def group(key: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(
                f"{name}-{key}",
                vpc_id=self.vpc_id,
                description=description,
                tags={"Name": f"{context.name}-{key}"},
                opts=child,
            )

        self.tasks_sg = group("tasks", "Airflow tasks: outbound to AWS APIs and the database")
        self.api_server_sg = group("api-server", "Airflow api-server: UI, REST API and Execution API")
        self.worker_sg = group("worker", "Airflow Celery workers: log server for the api-server")
        self.triggerer_sg = group("triggerer", "Airflow triggerer: log server for the api-server")
        self.database_sg = group("database", "Airflow metadata database")

        def ingress(
            key: str, group_id: pulumi.Input[str], port: int, *, source_group=None, cidr=None, description: str
        ) -> None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{key}",
                security_group_id=group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=source_group,
                cidr_ipv4=cidr,
                description=description,
                opts=child,
            )

        ingress(
            "api-from-tasks",
            self.api_server_sg.id,
            API_SERVER_PORT,
            source_group=self.tasks_sg.id,
            description="Execution API from Airflow tasks",
        )
        ingress(
            "worker-logs-from-api",
            self.worker_sg.id,
            WORKER_LOG_SERVER_PORT,
            source_group=self.api_server_sg.id,
            description="Live task logs for the UI",
        )
        ingress(
            "triggerer-logs-from-api",
            self.triggerer_sg.id,
            TRIGGERER_LOG_SERVER_PORT,
            source_group=self.api_server_sg.id,
            description="Live logs of deferred tasks for the UI",
        )
        ingress(
            "db-from-tasks",
            self.database_sg.id,
            POSTGRES_PORT,
            source_group=self.tasks_sg.id,
            description="PostgreSQL from Airflow tasks",
        )

        ui = context.settings.ui
        self.load_balancer_sg: aws.ec2.SecurityGroup | None = None
        if ui.load_balancer:
            self.load_balancer_sg = group("load-balancer", "Airflow UI load balancer")
            for index, allowed in enumerate(ui.allowed_cidrs):
                for port in (443, 80):
                    ingress(
                        f"lb-{port}-{index}",
                        self.load_balancer_sg.id,
                        port,
                        cidr=allowed,
                        description=f"UI from {allowed}",
                    )
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-lb-to-api",
                security_group_id=self.load_balancer_sg.id,
                ip_protocol="tcp",
                from_port=API_SERVER_PORT,
                to_port=API_SERVER_PORT,
                referenced_security_group_id=self.api_server_sg.id,
                description="Forward to the api-server",
                opts=child,
            )
            if ui.oidc is not None:
                # The load balancer itself calls the identity provider's token and user info endpoints.
                aws.vpc.SecurityGroupEgressRule(
                    f"{name}-lb-to-idp",
                    security_group_id=self.load_balancer_sg.id,
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_ipv4=ANYWHERE,
                    description="OIDC token and user info endpoints of the identity provider",
                    opts=child,
                )
            ingress(
                "api-from-lb",
                self.api_server_sg.id,
                API_SERVER_PORT,
                source_group=self.load_balancer_sg.id,
                description="UI through the load balancer",
            )
        else:
            # No load balancer: the UI is reachable from inside the VPC (and the private ranges named).
            ingress(
                "api-from-vpc",
                self.api_server_sg.id,
                API_SERVER_PORT,
                cidr=self.vpc_cidr,
                description="UI from inside the VPC",
            )
            for index, allowed in enumerate(ui.allowed_cidrs):
                ingress(
                    f"api-from-private-{index}",
                    self.api_server_sg.id,
                    API_SERVER_PORT,
                    cidr=allowed,
                    description=f"UI from {allowed}",
                )

        # Tasks reach AWS APIs (ECR, S3, SQS, Secrets Manager, CloudWatch) over HTTPS and the database.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-https",
            security_group_id=self.tasks_sg.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=ANYWHERE,
            description="AWS APIs over HTTPS",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-to-db",
            security_group_id=self.tasks_sg.id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            referenced_security_group_id=self.database_sg.id,
            description="PostgreSQL",
            opts=child,
        )
        for key, port, target in (
            ("tasks-to-api", API_SERVER_PORT, self.api_server_sg),
            ("tasks-to-worker-logs", WORKER_LOG_SERVER_PORT, self.worker_sg),
            ("tasks-to-triggerer-logs", TRIGGERER_LOG_SERVER_PORT, self.triggerer_sg),
        ):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{key}",
                security_group_id=self.tasks_sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=target.id,
                description=f"Airflow tasks to port {port}",
                opts=child,
            )

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "taskSubnetIds": self.task_subnet_ids,
                "databaseSubnetIds": self.database_subnet_ids,
            }
        )
