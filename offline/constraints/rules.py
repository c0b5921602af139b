"""Documented rules no botocore model encodes, each with the AWS page it comes from."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from offline.constraints.model import Problem, service_model, shape_problems
from offline.constraints.recorded import label, physical_name, plain
from offline.recording import Recording

Rule = Callable[["Recording"], Iterator[Problem]]
RULES: list[Rule] = []


def rule(function: Rule) -> Rule:
    RULES.append(function)
    return function


def _named(pattern: str, name: str, maximum: int) -> bool:
    return len(name) <= maximum and re.fullmatch(pattern, name) is not None


@rule
def load_balancing_names(recording: Recording) -> Iterator[Problem]:
    """ALB and target group names: up to 32 alphanumerics and hyphens, not starting or ending with a hyphen
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html,
    API_CreateLoadBalancer.html)."""
    pattern = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    for type_, api in (
        ("aws:lb/loadBalancer:LoadBalancer", "CreateLoadBalancer"),
        ("aws:lb/targetGroup:TargetGroup", "CreateTargetGroup"),
    ):
        for r in recording.of_type(type_):
            name = physical_name(r)
            if not _named(pattern, name, 32) or name.startswith("internal-"):
                yield Problem(
                    label(r),
                    "name",
                    f"must be up to 32 letters, digits and hyphens, not starting or ending with a hyphen; got {name!r}",
                    f"ELB API reference, {api}",
                )


@rule
def target_group_health_check(recording: Recording) -> Iterator[Problem]:
    """The health check timeout must be smaller than the interval
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html)."""
    for r in recording.of_type("aws:lb/targetGroup:TargetGroup"):
        check = r.inputs.get("healthCheck") or {}
        if check.get("timeout") and check.get("interval") and check["timeout"] >= check["interval"]:
            yield Problem(
                label(r), "healthCheck.timeout", "must be less than healthCheck.interval", "ALB guide, health checks"
            )


@rule
def queue_names(recording: Recording) -> Iterator[Problem]:
    """Queue names: up to 80 alphanumerics, hyphens and underscores; timeouts and retention within range
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html)."""
    ranges = {
        "visibilityTimeoutSeconds": (0, 43200),
        "messageRetentionSeconds": (60, 1209600),
        "delaySeconds": (0, 900),
        "receiveWaitTimeSeconds": (0, 20),
    }
    for r in recording.of_type("aws:sqs/queue:Queue"):
        name = physical_name(r)
        if not _named(r"[A-Za-z0-9_-]+(\.fifo)?", name, 80):
            yield Problem(
                label(r), "name", f"must be up to 80 letters, digits, - and _; got {name!r}", "SQS CreateQueue"
            )
        for key, (low, high) in ranges.items():
            value = r.inputs.get(key)
            if value is not None and not low <= value <= high:
                yield Problem(label(r), key, f"must be {low} to {high}, got {value}", "SQS CreateQueue")
        redrive = r.inputs.get("redrivePolicy")
        if redrive and not 1 <= json.loads(redrive).get("maxReceiveCount", 1) <= 1000:
            yield Problem(label(r), "redrivePolicy", "maxReceiveCount must be 1 to 1000", "SQS CreateQueue")


@rule
def topic_names(recording: Recording) -> Iterator[Problem]:
    """Topic names: up to 256 alphanumerics, hyphens and underscores
    (https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html)."""
    for r in recording.of_type("aws:sns/topic:Topic"):
        name = physical_name(r)
        if not _named(r"[A-Za-z0-9_-]+", name, 256):
            yield Problem(
                label(r), "name", f"must be up to 256 letters, digits, - and _; got {name!r}", "SNS CreateTopic"
            )


@rule
def dashboard_names(recording: Recording) -> Iterator[Problem]:
    """Dashboard names: up to 255 alphanumerics, hyphens and underscores
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html)."""
    for r in recording.of_type("aws:cloudwatch/dashboard:Dashboard"):
        name = str(r.inputs.get("dashboardName"))
        if not _named(r"[A-Za-z0-9_-]+", name, 255):
            yield Problem(
                label(r),
                "dashboardName",
                f"must be up to 255 letters, digits, - and _; got {name!r}",
                "CloudWatch PutDashboard",
            )


@rule
def alarm_periods(recording: Recording) -> Iterator[Problem]:
    """Alarm periods are 10, 20, 30 or a multiple of 60 seconds, and period times evaluation periods is at
    most one day (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html)."""
    for r in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        period, periods = int(r.inputs.get("period") or 60), int(r.inputs.get("evaluationPeriods") or 1)
        if period not in (10, 20, 30) and period % 60:
            yield Problem(label(r), "period", f"must be 10, 20, 30 or a multiple of 60; got {period}", "PutMetricAlarm")
        if period * periods > 86400:
            yield Problem(label(r), "evaluationPeriods", "times period must be at most 86400 seconds", "PutMetricAlarm")


@rule
def ecs_names(recording: Recording) -> Iterator[Problem]:
    """ECS service names, task definition families and container names: up to 255 letters, digits,
    hyphens and underscores (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html,
    API_RegisterTaskDefinition.html, API_ContainerDefinition.html)."""
    pattern = r"[A-Za-z0-9_-]+"
    for r in recording.of_type("aws:ecs/service:Service"):
        if not _named(pattern, physical_name(r), 255):
            yield Problem(label(r), "name", "must be up to 255 letters, digits, - and _", "ECS CreateService")
    for r in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        if not _named(pattern, str(r.inputs.get("family")), 255):
            yield Problem(
                label(r), "family", "must be up to 255 letters, digits, - and _", "ECS RegisterTaskDefinition"
            )


# Fargate limits of a container definition (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html).
FARGATE_MAX_STOP_TIMEOUT = 120


@rule
def container_definitions(recording: Recording) -> Iterator[Problem]:
    """Each container against botocore's ContainerDefinition shape, plus the rules the shape cannot say:
    stopTimeout at most 120 s on Fargate; a COMPLETE or SUCCESS dependency only on a non-essential
    container; a dependency on a container of the same task; health check ranges
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDependency.html,
    API_HealthCheck.html)."""
    shape = service_model("ecs").shape_for("ContainerDefinition")
    health_ranges = {"interval": (5, 300), "timeout": (2, 120), "retries": (1, 10), "startPeriod": (0, 300)}
    for r in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        containers = json.loads(r.inputs.get("containerDefinitions") or "[]")
        by_name = {c.get("name"): c for c in containers}
        if not any(c.get("essential", True) for c in containers):
            yield Problem(
                label(r),
                "containerDefinitions",
                "needs at least one essential container",
                "ECS RegisterTaskDefinition",
            )
        for container in containers:
            where = f"containerDefinitions[{container.get('name')}]"
            for message in shape_problems(shape, container, where):
                yield Problem(label(r), "", message, "botocore model of ecs ContainerDefinition")
            if (container.get("stopTimeout") or 0) > FARGATE_MAX_STOP_TIMEOUT:
                yield Problem(
                    label(r),
                    f"{where}.stopTimeout",
                    "is at most 120 seconds on Fargate",
                    "ECS task definition parameters",
                )
            for dependency in container.get("dependsOn") or []:
                target = by_name.get(dependency.get("containerName"))
                if target is None:
                    yield Problem(
                        label(r),
                        f"{where}.dependsOn",
                        f"names no container of this task: {dependency}",
                        "ECS ContainerDependency",
                    )
                elif dependency.get("condition") in ("COMPLETE", "SUCCESS") and target.get("essential", True):
                    yield Problem(
                        label(r),
                        f"{where}.dependsOn",
                        f"{dependency['condition']} can't be set on an essential container ({target['name']})",
                        "ECS ContainerDependency",
                    )
            for key, (low, high) in health_ranges.items():
                value = (container.get("healthCheck") or {}).get(key)
                if value is not None and not low <= value <= high:
                    yield Problem(label(r), f"{where}.healthCheck.{key}", f"must be {low} to {high}", "ECS HealthCheck")


# ECS refuses a task definition larger than 64 KiB (its JSON as registered; "Amazon ECS service quotas":
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html, "Task definition size").
TASK_DEFINITION_MAX_BYTES = 64 * 1024


@rule
def task_definition_size(recording: Recording) -> Iterator[Problem]:
    """Each task definition's size as RegisterTaskDefinition receives it: the stack's own environment plus
    `services.environment` repeated in every container of every component."""
    for r in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        containers = json.loads(r.inputs.get("containerDefinitions") or "[]")
        others = {k: v for k, v in r.inputs.items() if k != "containerDefinitions"}
        size = len(json.dumps({"containerDefinitions": containers, **others}, default=str).encode())
        if size > TASK_DEFINITION_MAX_BYTES:
            yield Problem(
                label(r),
                "containerDefinitions",
                f"make the task definition {size // 1024} KiB, over ECS's 64 KiB: shorten or drop values of "
                "airflow:services.environment (each is repeated in every container), or keep them in Secrets "
                "Manager as variables",
                "ECS service quotas (task definition size)",
            )


def _strategy_problems(service: Any, strategy: list[dict[str, Any]], associated: set[str]) -> Iterator[Problem]:
    """AWS: each provider of a strategy is associated with the cluster, at most one has a base, and at least one
    has a weight above 0 (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CapacityProviderStrategyItem.html).
    Ours: Spot always with a base of one task on FARGATE, since ECS does not fall back from a provider that
    cannot place a task and GovCloud's Fargate documents no Spot."""
    if not strategy:
        return
    for item in strategy:
        if item["capacityProvider"] not in associated:
            yield Problem(
                label(service),
                "capacityProviderStrategies",
                f"{item['capacityProvider']} is not associated with the "
                f"cluster (its capacity providers: {', '.join(sorted(associated)) or 'none'})",
                "ECS CreateService",
            )
    if sum(1 for item in strategy if item.get("base")) > 1:
        yield Problem(label(service), "capacityProviderStrategies", "only one provider may have a base", "ECS")
    if not any(item.get("weight", 0) > 0 for item in strategy):
        yield Problem(label(service), "capacityProviderStrategies", "needs a provider with weight above 0", "ECS")
    base = {item["capacityProvider"]: item.get("base", 0) for item in strategy}
    if "FARGATE_SPOT" in base and base.get("FARGATE", 0) < 1:
        yield Problem(
            label(service),
            "capacityProviderStrategies",
            "uses FARGATE_SPOT without a base of one task on FARGATE: with no Spot capacity nothing would run",
            "this project",
        )


@rule
def ecs_service_rules(recording: Recording) -> Iterator[Problem]:
    """A service with a capacity provider strategy sets no launch type, and waits for the cluster's capacity
    providers; a service behind a load balancer waits for the listener that uses its target group (ECS
    refuses a target group with no load balancer); a health check grace period needs a load balancer
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html)."""
    capacity = recording.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    listeners = recording.of_type("aws:lb/listener:Listener")
    for r in recording.of_type("aws:ecs/service:Service"):
        strategy = r.inputs.get("capacityProviderStrategies")
        if strategy and r.inputs.get("launchType"):
            yield Problem(label(r), "launchType", "can't be set with capacityProviderStrategies", "ECS CreateService")
        yield from _strategy_problems(r, strategy or [], {p for c in capacity for p in c.inputs["capacityProviders"]})
        if strategy and not any(recording.depends_on(r, c.urn) for c in capacity):
            yield Problem(
                label(r),
                "dependsOn",
                "must wait for the cluster's capacity providers (FARGATE_SPOT must be associated first)",
                "ECS CreateService",
            )
        balancers = r.inputs.get("loadBalancers") or []
        if balancers and not any(recording.depends_on(r, listener.urn) for listener in listeners):
            yield Problem(
                label(r),
                "dependsOn",
                "must wait for the load balancer's listener: ECS refuses a target group with no load balancer",
                "ECS CreateService",
            )
        if r.inputs.get("healthCheckGracePeriodSeconds") and not balancers:
            yield Problem(label(r), "healthCheckGracePeriodSeconds", "needs a load balancer", "ECS CreateService")


@rule
def lambda_rules(recording: Recording) -> Iterator[Problem]:
    """A function name alone is up to 64 characters; its environment is at most 4 KB in all
    (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html,
    https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)."""
    for r in recording.of_type("aws:lambda/function:Function"):
        name = physical_name(r)
        if not _named(r"[A-Za-z0-9_-]+", name, 64):
            yield Problem(
                label(r), "name", f"must be up to 64 letters, digits, - and _; got {name!r}", "Lambda CreateFunction"
            )
        variables = (r.inputs.get("environment") or {}).get("variables") or {}
        size = sum(len(str(k)) + len(str(v)) for k, v in variables.items())
        if size > 4096:
            yield Problem(label(r), "environment", f"is {size} bytes; Lambda allows 4 KB in all", "Lambda quotas")


@rule
def iam_rules(recording: Recording) -> Iterator[Problem]:
    """A role's inline policies are at most 10,240 characters in all (whitespace not counted); a role has at
    most 10 managed policies attached by default
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)."""
    inline: dict[str, int] = {}
    attached: dict[str, int] = {}
    roles = {r.urn: r for r in recording.of_type("aws:iam/role:Role")}
    for r in recording.of_type("aws:iam/rolePolicy:RolePolicy"):
        role = str(r.inputs.get("role"))
        inline[role] = inline.get(role, 0) + len(re.sub(r"\s", "", str(r.inputs.get("policy"))))
    for r in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        role = str(r.inputs.get("role"))
        attached[role] = attached.get(role, 0) + 1
    for role, size in inline.items():
        if size > 10240:
            yield Problem(f"Role {role}", "inline policies", f"are {size} characters; IAM allows 10,240", "IAM quotas")
    for role, count in attached.items():
        if count > 10:
            yield Problem(
                f"Role {role}", "managed policies", f"{count} attached; IAM allows 10 by default", "IAM quotas"
            )
    del roles


@rule
def rds_identifiers(recording: Recording) -> Iterator[Problem]:
    """Instance identifiers: 1 to 63 letters, digits or hyphens, starting with a letter, no two consecutive
    hyphens, not ending with one; final snapshot identifiers alike, up to 255; a final snapshot needs an
    identifier unless it is skipped (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
    API_DeleteDBInstance.html)."""
    pattern = r"[A-Za-z](?!.*--)[A-Za-z0-9-]*(?<!-)"
    for r in recording.of_type("aws:rds/instance:Instance"):
        identifier = str(r.inputs.get("identifier"))
        if not _named(pattern, identifier, 63):
            yield Problem(
                label(r),
                "identifier",
                f"is not a valid DB instance identifier: {identifier!r}",
                "RDS CreateDBInstance",
            )
        final = r.inputs.get("finalSnapshotIdentifier")
        if not r.inputs.get("skipFinalSnapshot") and not final:
            yield Problem(
                label(r), "finalSnapshotIdentifier", "is required unless skipFinalSnapshot", "RDS DeleteDBInstance"
            )
        if final and not _named(pattern, str(final), 255):
            yield Problem(
                label(r),
                "finalSnapshotIdentifier",
                f"is not a valid snapshot identifier: {final!r}",
                "RDS DeleteDBInstance",
            )


_EC2_DESCRIPTION = r"[A-Za-z0-9. _\-:/()#,@\[\]+=&;{}!$*]*"


@rule
def security_group_text(recording: Recording) -> Iterator[Problem]:
    """Security group and rule descriptions: up to 255 characters from a-z, A-Z, 0-9, spaces and
    ._-:/()#,@[]+=&;{}!$* (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html)."""
    types = (
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    )
    for type_ in types:
        for r in recording.of_type(type_):
            text = str(r.inputs.get("description") or "")
            if not _named(_EC2_DESCRIPTION, text, 255):
                yield Problem(
                    label(r),
                    "description",
                    f"has characters EC2 refuses or is too long: {text!r}",
                    "EC2 CreateSecurityGroup",
                )


@rule
def ssm_parameter_names(recording: Recording) -> Iterator[Problem]:
    """Parameter names: letters, digits and .-_/, at most 15 levels, not beginning with aws or ssm
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html)."""
    for r in recording.of_type("aws:ssm/parameter:Parameter"):
        name = physical_name(r)
        if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", name) or name.count("/") > 15 or re.match(r"/?(aws|ssm)", name, re.I):
            yield Problem(
                label(r), "name", f"is not a valid parameter name: {name!r}", "SSM parameter name constraints"
            )


@rule
def oidc_reaches_identity_provider(recording: Recording) -> Iterator[Problem]:
    """A load balancer that authenticates with OIDC calls the IdP's token and user info endpoints itself:
    its security group must allow HTTPS out, and an internal load balancer needs a route to the internet
    (a NAT gateway) (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html,
    "Prepare to use an OIDC-compliant IdP")."""
    uses_oidc = any(
        a.get("type") == "authenticate-oidc"
        for r in (
            *recording.of_type("aws:lb/listener:Listener"),
            *recording.of_type("aws:lb/listenerRule:ListenerRule"),
        )
        for a in plain(r.inputs.get("defaultActions") or r.inputs.get("actions") or [])
    )
    if not uses_oidc:
        return
    for balancer in recording.of_type("aws:lb/loadBalancer:LoadBalancer"):
        groups = set(balancer.inputs.get("securityGroups") or [])
        egress = [
            e
            for e in recording.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
            if e.inputs.get("securityGroupId") in groups
        ]
        if not any(
            e.inputs.get("cidrIpv4") == "0.0.0.0/0"
            and (e.inputs.get("fromPort") or 0) <= 443 <= (e.inputs.get("toPort") or 0)
            for e in egress
        ):
            yield Problem(
                label(balancer),
                "securityGroups",
                "must allow HTTPS out to the identity provider (OIDC token and user info endpoints)",
                "ALB guide, authenticate users",
            )
        if balancer.inputs.get("internal"):
            for vpc in recording.of_type("awsx:ec2:Vpc"):
                if (vpc.inputs.get("natGateways") or {}).get("strategy") in (None, "None"):
                    yield Problem(
                        label(balancer),
                        "internal",
                        "an internal load balancer with OIDC needs a NAT gateway to reach the identity provider",
                        "ALB guide, authenticate users",
                    )
