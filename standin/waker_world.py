"""A stack's AWS side under moto in us-gov-east-1, for the waker: cluster and services, broker queue,
schedule group. Used by the waker's handler tests and its benchmark."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from contracts.components import COMPONENTS
from contracts.metrics import REPORTER_METRICS
from contracts.stacks import component_log_group
from contracts.waker import NEXT_DUE_WAKE, TICK, WakerVariable, schedule_name
from lambdas.waker.handler import Clients, WakerConfig, handle

REGION = "us-gov-east-1"
STACK = "airflow-dev"
NAMESPACE = f"Airflow/{STACK}"
SERVICES = {c: c for c in COMPONENTS}
FUNCTION_ARN = f"arn:aws-us-gov:lambda:{REGION}:123456789012:function:{STACK}-waker"
SCHEDULER_ROLE_ARN = "arn:aws-us-gov:iam::123456789012:role/airflow-dev-scheduler"
# Noon UTC yesterday: recent, as the metrics and logs the waker reads are, and at the same hour of the day
# whenever the suite runs, so no scene's minutes cross a midnight (the day's visit count, calendar windows)
# only because of the hour it ran at.
START = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)


@functools.cache
def moto_client(service: str) -> Any:
    """One client per service for every moto account this process makes: moto intercepts a client's calls
    whenever a mock is active, and making a client (its endpoint rules) costs more than a test's calls."""
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id="testing",  # moto's fixed test keys
        aws_secret_access_key="testing",  # noqa: S106
    )


def world_clients() -> Clients:
    return Clients(*(moto_client(f.name) for f in dataclasses.fields(Clients)))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass
class World:
    clients: Clients
    config: WakerConfig
    queue_url: str
    alarm_inbox_url: str = ""
    stack: str = STACK  # the stack's resource names: airflow-<stack>

    @property
    def function_arn(self) -> str:
        return f"arn:aws-us-gov:lambda:{REGION}:123456789012:function:{self.stack}-waker"

    def notices(self) -> list[str]:
        """Subjects of the notices that reached the alarm topic's subscriber since the last call."""
        sqs = self.clients.sqs
        received = sqs.receive_message(QueueUrl=self.alarm_inbox_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            sqs.delete_message(QueueUrl=self.alarm_inbox_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"])["Subject"] for m in received]

    def invoke(self, event: Any, at: datetime, **options: Any) -> dict[str, Any]:
        return handle(
            event, config=self.config, clients=self.clients, now=at, function_arn=self.function_arn, **options
        )

    def send_broker_messages(self, at: datetime, count: int = 1) -> None:
        """Celery task messages on the broker as SQS stamps them when sent at `at` (its SentTimestamp)."""
        from unittest import mock

        with mock.patch("moto.sqs.models.unix_time_millis", return_value=at.timestamp() * 1000):
            for n in range(count):
                body = json.dumps({"headers": {"task": "execute_workload", "id": f"task-{n}"}})
                self.clients.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def api_server_logs(self, at: datetime, lines: list[str]) -> None:
        """Lines the api-server wrote at `at`, as its log driver sends them to CloudWatch Logs."""
        assert self.config.api_server_log_group, "a world made with api_server_log=True"
        logs = self.clients.logs
        stream = f"api-server/api-server/{int(at.timestamp())}"
        logs.create_log_stream(logGroupName=self.config.api_server_log_group, logStreamName=stream)
        stamp = int(at.timestamp() * 1000)
        logs.put_log_events(
            logGroupName=self.config.api_server_log_group,
            logStreamName=stream,
            logEvents=[{"timestamp": stamp, "message": line} for line in lines],
        )

    def desired(self) -> dict[str, int]:
        services = self.clients.ecs.describe_services(cluster=self.stack, services=list(SERVICES))["services"]
        return {s["serviceName"]: s["desiredCount"] for s in services}

    def report(self, at: datetime, *, next_due_in: float | None = None, **values: int) -> None:
        """Publish a report as the activity reporter beside the scheduler would."""
        data = []
        for name, key in REPORTER_METRICS.items():
            if key == "seconds_until_next_due":
                if next_due_in is not None:
                    data.append({"MetricName": name, "Timestamp": at, "Value": next_due_in})
                continue
            data.append({"MetricName": name, "Timestamp": at, "Value": float(values.get(key, 0))})
        self.clients.cloudwatch.put_metric_data(Namespace=f"Airflow/{self.stack}", MetricData=data)

    def minute_tick(self) -> str:
        return self.clients.scheduler.get_schedule(GroupName=self.stack, Name=f"{self.stack}-tick")["State"]

    def one_time_wake(self) -> str | None:
        try:
            schedule = self.clients.scheduler.get_schedule(
                GroupName=self.stack, Name=schedule_name(self.stack, NEXT_DUE_WAKE)
            )
        except self.clients.scheduler.exceptions.ResourceNotFoundException:
            return None
        assert schedule["Target"]["Arn"] == self.function_arn
        assert json.loads(schedule["Target"]["Input"])["action"] == "wake"
        return schedule["ScheduleExpression"]


OIDC_ACTION = {
    "Type": "authenticate-oidc",
    "Order": 1,
    "AuthenticateOidcConfig": {
        "Issuer": "https://login.example.gov",
        "AuthorizationEndpoint": "https://login.example.gov/authorize",
        "TokenEndpoint": "https://login.example.gov/token",
        "UserInfoEndpoint": "https://login.example.gov/userinfo",
        "ClientId": "airflow",
        "ClientSecret": "oidc-client-secret",
        "Scope": "openid",
        "OnUnauthenticatedRequest": "authenticate",
    },
}


def ui_load_balancer(vpc: str, subnet: str, ec2: Any) -> dict[str, str]:
    """The UI's load balancer as the program declares it with OIDC: the listener authenticates, then forwards
    to the api-server; the waking page's rule authenticates, then forwards to the page, and catches every
    path (a new stack sleeps)."""
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.4.0/22", AvailabilityZone=f"{REGION}b")["Subnet"]["SubnetId"]
    elbv2 = moto_client("elbv2")
    alb = elbv2.create_load_balancer(Name=f"{STACK}-ui", Subnets=[subnet, other], Type="application")
    alb_arn = alb["LoadBalancers"][0]["LoadBalancerArn"]
    api = elbv2.create_target_group(Name=f"{STACK}-api", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    page = elbv2.create_target_group(Name=f"{STACK}-page", TargetType="lambda")["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[OIDC_ACTION, {"Type": "forward", "Order": 2, "TargetGroupArn": api}],
    )
    rule = elbv2.create_rule(
        ListenerArn=listener["Listeners"][0]["ListenerArn"],
        Priority=1,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
        Actions=[OIDC_ACTION, {"Type": "forward", "Order": 2, "TargetGroupArn": page}],
    )
    return {WakerVariable.LISTENER_RULE_ARN: rule["Rules"][0]["RuleArn"], WakerVariable.API_TARGET_GROUP_ARN: api}


@contextlib.contextmanager
def moto_world(
    *,
    database: bool = False,
    load_balancer: bool = False,
    api_server_log: bool = False,
    stack: str = STACK,
    **waker_settings: Any,
) -> Iterator[World]:
    """A fresh moto account with the stack's cluster (all services at 0), broker queue and schedule group;
    `api_server_log`: the api-server's log group, which the waker reads for UI use (a stack without a load
    balancer)."""
    saved = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")  # noqa: S106 (moto's fixed test keys)
    try:
        with mock_aws():
            ec2 = moto_client("ec2")
            vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.0.0/22")["Subnet"]["SubnetId"]
            group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
            function_arn = f"arn:aws-us-gov:lambda:{REGION}:123456789012:function:{stack}-waker"
            scheduler_role_arn = f"arn:aws-us-gov:iam::123456789012:role/{stack}-scheduler"
            ecs = moto_client("ecs")
            ecs.create_cluster(clusterName=stack)
            for name in SERVICES:
                ecs.register_task_definition(
                    family=f"{stack}-{name}",
                    networkMode="awsvpc",
                    requiresCompatibilities=["FARGATE"],
                    cpu="512",
                    memory="1024",
                    containerDefinitions=[{"name": name, "image": "airflow", "memory": 1024}],
                )
                ecs.create_service(
                    cluster=stack,
                    serviceName=name,
                    taskDefinition=f"{stack}-{name}",
                    desiredCount=0,
                    launchType="FARGATE",
                    networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
                )
            queue_url = moto_client("sqs").create_queue(QueueName=f"{stack}-celery")["QueueUrl"]
            parking_url = moto_client("sqs").create_queue(QueueName=f"{stack}-celery-dead-letter")["QueueUrl"]
            # The alarm topic, and a queue subscribed to it standing in for an operator's inbox.
            topic = moto_client("sns").create_topic(Name=f"{stack}-alarms")["TopicArn"]
            inbox = moto_client("sqs").create_queue(QueueName=f"{stack}-alarm-inbox")["QueueUrl"]
            inbox_arn = moto_client("sqs").get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
            moto_client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn["Attributes"]["QueueArn"])
            moto_client("scheduler").create_schedule_group(Name=stack)
            moto_client("scheduler").create_schedule(
                GroupName=stack,
                Name=f"{stack}-tick",
                ScheduleExpression="rate(1 minute)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": function_arn, "RoleArn": scheduler_role_arn, "Input": json.dumps({"action": "tick"})},
                State="ENABLED",
            )
            balancer: dict[str, str] = {}
            if load_balancer:
                balancer = ui_load_balancer(vpc, subnet, ec2)
            if database:
                moto_client("rds").create_db_instance(
                    DBInstanceIdentifier=stack,
                    Engine="postgres",
                    DBInstanceClass="db.t4g.micro",
                    MasterUsername="airflow",
                    MasterUserPassword="password-1234",
                    AllocatedStorage=20,
                )
            log_group: dict[str, str] = {}
            if api_server_log:
                log_group[WakerVariable.API_SERVER_LOG_GROUP] = component_log_group(stack, "api-server")
                moto_client("logs").create_log_group(logGroupName=log_group[WakerVariable.API_SERVER_LOG_GROUP])
            settings = {
                "services": SERVICES,
                "idle_minutes": 15,
                "wake_lead_minutes": 5,
                "max_workers": 4,
                "worker_concurrency": 8,
                **waker_settings,
            }
            config = WakerConfig.from_environment(
                {
                    WakerVariable.STACK: stack,
                    WakerVariable.CLUSTER: stack,
                    WakerVariable.WAKER_SETTINGS: json.dumps(settings),
                    WakerVariable.BROKER_QUEUE_URL: queue_url,
                    WakerVariable.BROKER_PARKING_QUEUE_URL: parking_url,
                    WakerVariable.METRIC_NAMESPACE: f"Airflow/{stack}",
                    WakerVariable.SCHEDULE_GROUP: stack,
                    WakerVariable.SCHEDULER_ROLE_ARN: scheduler_role_arn,
                    WakerVariable.TICK_SCHEDULE: schedule_name(stack, TICK),
                    WakerVariable.STATE_PARAMETER: f"/{stack}/waker/state",
                    WakerVariable.LEASE_PARAMETER: f"/{stack}/waker/lease",
                    WakerVariable.DB_INSTANCE_ID: stack if database else "",
                    WakerVariable.ALARM_TOPIC_ARN: topic,
                    **balancer,
                    **log_group,
                }
            )
            yield World(world_clients(), config, queue_url, inbox, stack)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
