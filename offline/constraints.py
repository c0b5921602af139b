"""AWS's documented constraints, checked before anything is created: what `pulumi up` would have AWS refuse.

Pulumi's mocks accept any value, and moto checks few. Two kinds of checks are made here:
- **Model constraints** (lengths, patterns, enums, ranges) from botocore's service models, the same
  models the AWS APIs are generated from, for every declared resource whose inputs map to an API member.
- **Documented rules** that no model encodes (name formats, cross-field rules, quotas), each with the
  AWS page it comes from.

`resource_problems(recording)` checks a recorded program run (the offline plan fails on any problem);
`request_problem(...)` checks one API request (the stand-in AWS refuses it as AWS would).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offline.recording import RecordedResource, Recording

# Pulumi's autonaming adds "-" and 7 random characters to a resource's logical name.
AUTONAME_SUFFIX = 8
# Secrets Manager's name_prefix: Pulumi adds a 26-character unique suffix.
NAME_PREFIX_SUFFIX = 26


@dataclass(frozen=True)
class Problem:
    resource: str  # "type name"
    field: str
    message: str
    source: str  # the AWS document the rule comes from

    def __str__(self) -> str:
        return f"{self.resource}: {self.field} {self.message} ({self.source})"


# --- botocore model checks ---------------------------------------------------------------------------------


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _partition_aware(pattern: str | None) -> str | None:
    """Some models write the partition as `aws(-[a-z]+)?`, which `aws-us-gov` does not match; the services
    themselves run in GovCloud and take its ARNs (EventBridge Scheduler's Target.RoleArn, for one)."""
    return pattern.replace("aws(-[a-z]+)?", "aws(-[a-z]+)*") if pattern else pattern


def shape_problems(shape: Any, value: Any, path: str, *, required: bool = True) -> Iterator[str]:
    """Lengths, ranges, patterns and enums of `value` against a botocore shape (botocore itself checks
    only minimums when it sends a request). `required`: report required members that are missing."""
    if value is None:
        return
    meta = shape.metadata
    kind = shape.type_name
    if kind == "string":
        text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        if "min" in meta and len(text) < meta["min"]:
            yield f"{path} must be at least {meta['min']} characters, got {len(text)}"
        if "max" in meta and len(text) > meta["max"]:
            yield f"{path} must be at most {meta['max']} characters, got {len(text)}: {text[:80]!r}"
        if shape.enum and text not in shape.enum:
            yield f"{path} must be one of {', '.join(shape.enum)}; got {text!r}"
        pattern = _partition_aware(meta.get("pattern"))
        if pattern and re.fullmatch(pattern, text) is None:
            yield f"{path} must match {pattern}; got {text[:80]!r}"
    elif kind in ("integer", "long", "double", "float"):
        number = _number(value)
        if number is None:
            yield f"{path} must be a number, got {value!r}"
            return
        if "min" in meta and number < meta["min"]:
            yield f"{path} must be at least {meta['min']}, got {value}"
        if "max" in meta and number > meta["max"]:
            yield f"{path} must be at most {meta['max']}, got {value}"
    elif kind == "list" and isinstance(value, list):
        if "min" in meta and len(value) < meta["min"]:
            yield f"{path} needs at least {meta['min']} items, got {len(value)}"
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path} takes at most {meta['max']} items, got {len(value)}"
        for index, item in enumerate(value):
            yield from shape_problems(shape.member, item, f"{path}[{index}]", required=required)
    elif kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                yield from shape_problems(member, value[name], f"{path}.{name}", required=required)
        for name in shape.required_members if required else ():
            if name not in value:
                yield f"{path}.{name} is required"
    elif kind == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            yield from shape_problems(shape.key, key, f"{path} key")
            yield from shape_problems(shape.value, item, f"{path}.{key}", required=required)


def operation_problems(service: str, operation: str, params: Mapping[str, Any], *, partial: bool = True) -> list[str]:
    """`params` against an operation's input shape (`partial`: members not given are not required)."""
    shape = _service_model(service).operation_model(operation).input_shape
    problems = []
    for name, member in shape.members.items():
        if name in params:
            problems.extend(shape_problems(member, params[name], name, required=not partial))
    if not partial:
        problems.extend(f"{name} is required" for name in shape.required_members if name not in params)
    return problems


# --- requests (the stand-in AWS) ---------------------------------------------------------------------------

_SIGNING_TO_MODEL = {"monitoring": "cloudwatch", "elasticloadbalancing": "elbv2", "servicequotas": "service-quotas"}
# Checked requests: where the callers are the stack's own code (the waker, the migration runner, the CLI).
_CHECKED_REQUESTS = {
    ("elbv2", "ModifyRule"),
    ("scheduler", "CreateSchedule"),
    ("scheduler", "UpdateSchedule"),
    ("ecs", "UpdateService"),
    ("ecs", "RunTask"),
    ("ecs", "UpdateTaskProtection"),
    ("ssm", "PutParameter"),
    ("rds", "CreateDBSnapshot"),
}


def protocol(signing_service: str) -> str:
    """The wire protocol of a service (how its errors are written)."""
    return _service_model(_SIGNING_TO_MODEL.get(signing_service, signing_service)).metadata["protocol"]


def request_problem(signing_service: str, operation: str, params: Mapping[str, Any]) -> str | None:
    """Why AWS would refuse this request (a ValidationError), or None."""
    service = _SIGNING_TO_MODEL.get(signing_service, signing_service)
    problems: list[str] = []
    if (service, operation) in _CHECKED_REQUESTS:
        problems += operation_problems(service, operation, params)
    if (service, operation) == ("elbv2", "ModifyRule"):
        problems += _modify_rule_oidc(params)
    return "; ".join(problems) or None


def _modify_rule_oidc(params: Mapping[str, Any]) -> list[str]:
    """ModifyRule with an authenticate-oidc action needs the client secret, or UseExistingClientSecret
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AuthenticateOidcActionConfig.html:
    "If you are modifying a rule, you can omit this parameter if you set UseExistingClientSecret to true")."""
    problems = []
    for index, action in enumerate(params.get("Actions") or []):
        config = action.get("AuthenticateOidcConfig")
        if action.get("Type") == "authenticate-oidc" and config is not None:
            use_existing = str(config.get("UseExistingClientSecret", "")).lower() == "true"
            if not config.get("ClientSecret") and not use_existing:
                problems.append(
                    f"Actions[{index}].AuthenticateOidcConfig.ClientSecret is required unless "
                    "UseExistingClientSecret is true"
                )
    return problems


# --- declared resources ------------------------------------------------------------------------------------

# Pulumi type -> (botocore service, operation, {Pulumi input: API member}); nested inputs use dots.
MODEL_MAPPINGS: dict[str, tuple[str, str, dict[str, str]]] = {
    "aws:scheduler/schedule:Schedule": (
        "scheduler",
        "CreateSchedule",
        {
            "name": "Name",
            "groupName": "GroupName",
            "scheduleExpression": "ScheduleExpression",
            "scheduleExpressionTimezone": "ScheduleExpressionTimezone",
            "target.retryPolicy.maximumEventAgeInSeconds": "Target.RetryPolicy.MaximumEventAgeInSeconds",
            "target.retryPolicy.maximumRetryAttempts": "Target.RetryPolicy.MaximumRetryAttempts",
        },
    ),
    "aws:scheduler/scheduleGroup:ScheduleGroup": ("scheduler", "CreateScheduleGroup", {"name": "Name"}),
    "aws:lambda/function:Function": (
        "lambda",
        "CreateFunction",
        {
            "name": "FunctionName",
            "runtime": "Runtime",
            "timeout": "Timeout",
            "memorySize": "MemorySize",
            "description": "Description",
            "handler": "Handler",
        },
    ),
    "aws:iam/role:Role": (
        "iam",
        "CreateRole",
        {"name": "RoleName", "description": "Description", "assumeRolePolicy": "AssumeRolePolicyDocument"},
    ),
    "aws:iam/rolePolicy:RolePolicy": ("iam", "PutRolePolicy", {"name": "PolicyName", "policy": "PolicyDocument"}),
    "aws:iam/policy:Policy": (
        "iam",
        "CreatePolicy",
        {"name": "PolicyName", "policy": "PolicyDocument", "description": "Description"},
    ),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "CreateLogGroup", {"name": "logGroupName"}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "cloudwatch",
        "PutMetricAlarm",
        {
            "name": "AlarmName",
            "alarmDescription": "AlarmDescription",
            "comparisonOperator": "ComparisonOperator",
            "statistic": "Statistic",
            "treatMissingData": "TreatMissingData",
        },
    ),
    "aws:cloudwatch/eventRule:EventRule": ("events", "PutRule", {"name": "Name", "description": "Description"}),
    "aws:ssm/parameter:Parameter": (
        "ssm",
        "PutParameter",
        {"name": "Name", "description": "Description", "type": "Type"},
    ),
    "aws:secretsmanager/secret:Secret": ("secretsmanager", "CreateSecret", {"description": "Description"}),
    "aws:ecr/repository:Repository": ("ecr", "CreateRepository", {"name": "repositoryName"}),
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": (
        "servicediscovery",
        "CreatePrivateDnsNamespace",
        {"name": "Name", "description": "Description"},
    ),
    "aws:kms/key:Key": ("kms", "CreateKey", {"description": "Description", "policy": "Policy"}),
    "aws:lb/targetGroup:TargetGroup": (
        "elbv2",
        "CreateTargetGroup",
        {
            "protocol": "Protocol",
            "targetType": "TargetType",
            "healthCheck.interval": "HealthCheckIntervalSeconds",
            "healthCheck.timeout": "HealthCheckTimeoutSeconds",
            "healthCheck.healthyThreshold": "HealthyThresholdCount",
            "healthCheck.unhealthyThreshold": "UnhealthyThresholdCount",
            "healthCheck.path": "HealthCheckPath",
        },
    ),
    "aws:lb/listener:Listener": ("elbv2", "CreateListener", {"protocol": "Protocol", "port": "Port"}),
    "aws:lb/listenerRule:ListenerRule": ("elbv2", "CreateRule", {"priority": "Priority"}),
    "aws:rds/instance:Instance": (
        "rds",
        "CreateDBInstance",
        {"storageType": "StorageType", "backupRetentionPeriod": "BackupRetentionPeriod"},
    ),
}


_SECRET = "4dabf18193072939515e22adb298388d"  # noqa: S105 (Pulumi's marker of a secret value, not a secret)


def plain(value: Any) -> Any:
    """A recorded value with Pulumi's secret wrappers removed (the checks need the values)."""
    if isinstance(value, Mapping):
        if _SECRET in value:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _path_get(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _path_set(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _label(resource: RecordedResource) -> str:
    return f"{resource.type.split(':')[-1]} {resource.name}"


def physical_name(resource: RecordedResource, key: str = "name") -> str:
    """The name AWS will see: the given one, or Pulumi's autoname (logical name + 8 characters)."""
    inputs = resource.inputs
    if inputs.get(key):
        return str(inputs[key])
    if inputs.get(f"{key}Prefix"):
        return str(inputs[f"{key}Prefix"]) + "x" * NAME_PREFIX_SUFFIX
    return resource.name + "-" + "x" * (AUTONAME_SUFFIX - 1)


_AUTONAMED = {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:cloudwatch/eventRule:EventRule"}


def _model_problems(resource: RecordedResource) -> Iterator[Problem]:
    service, operation, members = MODEL_MAPPINGS[resource.type]
    params: dict[str, Any] = {}
    for pulumi_path, api_path in members.items():
        value = _path_get(plain(resource.inputs), pulumi_path)
        if pulumi_path == "name" and resource.type in _AUTONAMED:
            value = physical_name(resource)
        if value is not None and value != "":
            _path_set(params, api_path, value)
    source = f"botocore model of {service} {operation}"
    for message in operation_problems(service, operation, params):
        yield Problem(_label(resource), "", message, source)


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
                    _label(r),
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
                _label(r), "healthCheck.timeout", "must be less than healthCheck.interval", "ALB guide, health checks"
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
                _label(r), "name", f"must be up to 80 letters, digits, - and _; got {name!r}", "SQS CreateQueue"
            )
        for key, (low, high) in ranges.items():
            value = r.inputs.get(key)
            if value is not None and not low <= value <= high:
                yield Problem(_label(r), key, f"must be {low} to {high}, got {value}", "SQS CreateQueue")
        redrive = r.inputs.get("redrivePolicy")
        if redrive and not 1 <= json.loads(redrive).get("maxReceiveCount", 1) <= 1000:
            yield Problem(_label(r), "redrivePolicy", "maxReceiveCount must be 1 to 1000", "SQS CreateQueue")


@rule
def topic_names(recording: Recording) -> Iterator[Problem]:
    """Topic names: up to 256 alphanumerics, hyphens and underscores
    (https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html)."""
    for r in recording.of_type("aws:sns/topic:Topic"):
        name = physical_name(r)
        if not _named(r"[A-Za-z0-9_-]+", name, 256):
            yield Problem(
                _label(r), "name", f"must be up to 256 letters, digits, - and _; got {name!r}", "SNS CreateTopic"
            )


@rule
def dashboard_names(recording: Recording) -> Iterator[Problem]:
    """Dashboard names: up to 255 alphanumerics, hyphens and underscores
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html)."""
    for r in recording.of_type("aws:cloudwatch/dashboard:Dashboard"):
        name = str(r.inputs.get("dashboardName"))
        if not _named(r"[A-Za-z0-9_-]+", name, 255):
            yield Problem(
                _label(r),
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
            yield Problem(
                _label(r), "period", f"must be 10, 20, 30 or a multiple of 60; got {period}", "PutMetricAlarm"
            )
        if period * periods > 86400:
            yield Problem(
                _label(r), "evaluationPeriods", "times period must be at most 86400 seconds", "PutMetricAlarm"
            )


@rule
def ecs_names(recording: Recording) -> Iterator[Problem]:
    """ECS service names, task definition families and container names: up to 255 letters, digits,
    hyphens and underscores (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html,
    API_RegisterTaskDefinition.html, API_ContainerDefinition.html)."""
    pattern = r"[A-Za-z0-9_-]+"
    for r in recording.of_type("aws:ecs/service:Service"):
        if not _named(pattern, physical_name(r), 255):
            yield Problem(_label(r), "name", "must be up to 255 letters, digits, - and _", "ECS CreateService")
    for r in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        if not _named(pattern, str(r.inputs.get("family")), 255):
            yield Problem(
                _label(r), "family", "must be up to 255 letters, digits, - and _", "ECS RegisterTaskDefinition"
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
    shape = _service_model("ecs").shape_for("ContainerDefinition")
    health_ranges = {"interval": (5, 300), "timeout": (2, 120), "retries": (1, 10), "startPeriod": (0, 300)}
    for r in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        containers = json.loads(r.inputs.get("containerDefinitions") or "[]")
        by_name = {c.get("name"): c for c in containers}
        if not any(c.get("essential", True) for c in containers):
            yield Problem(
                _label(r),
                "containerDefinitions",
                "needs at least one essential container",
                "ECS RegisterTaskDefinition",
            )
        for container in containers:
            where = f"containerDefinitions[{container.get('name')}]"
            for message in shape_problems(shape, container, where):
                yield Problem(_label(r), "", message, "botocore model of ecs ContainerDefinition")
            if (container.get("stopTimeout") or 0) > FARGATE_MAX_STOP_TIMEOUT:
                yield Problem(
                    _label(r),
                    f"{where}.stopTimeout",
                    "is at most 120 seconds on Fargate",
                    "ECS task definition parameters",
                )
            for dependency in container.get("dependsOn") or []:
                target = by_name.get(dependency.get("containerName"))
                if target is None:
                    yield Problem(
                        _label(r),
                        f"{where}.dependsOn",
                        f"names no container of this task: {dependency}",
                        "ECS ContainerDependency",
                    )
                elif dependency.get("condition") in ("COMPLETE", "SUCCESS") and target.get("essential", True):
                    yield Problem(
                        _label(r),
                        f"{where}.dependsOn",
                        f"{dependency['condition']} can't be set on an essential container ({target['name']})",
                        "ECS ContainerDependency",
                    )
            for key, (low, high) in health_ranges.items():
                value = (container.get("healthCheck") or {}).get(key)
                if value is not None and not low <= value <= high:
                    yield Problem(
                        _label(r), f"{where}.healthCheck.{key}", f"must be {low} to {high}", "ECS HealthCheck"
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
            yield Problem(_label(r), "launchType", "can't be set with capacityProviderStrategies", "ECS CreateService")
        if strategy and not any(recording.depends_on(r, c.urn) for c in capacity):
            yield Problem(
                _label(r),
                "dependsOn",
                "must wait for the cluster's capacity providers (FARGATE_SPOT must be associated first)",
                "ECS CreateService",
            )
        balancers = r.inputs.get("loadBalancers") or []
        if balancers and not any(recording.depends_on(r, listener.urn) for listener in listeners):
            yield Problem(
                _label(r),
                "dependsOn",
                "must wait for the load balancer's listener: ECS refuses a target group with no load balancer",
                "ECS CreateService",
            )
        if r.inputs.get("healthCheckGracePeriodSeconds") and not balancers:
            yield Problem(_label(r), "healthCheckGracePeriodSeconds", "needs a load balancer", "ECS CreateService")


@rule
def lambda_rules(recording: Recording) -> Iterator[Problem]:
    """A function name alone is up to 64 characters; its environment is at most 4 KB in all
    (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html,
    https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)."""
    for r in recording.of_type("aws:lambda/function:Function"):
        name = physical_name(r)
        if not _named(r"[A-Za-z0-9_-]+", name, 64):
            yield Problem(
                _label(r), "name", f"must be up to 64 letters, digits, - and _; got {name!r}", "Lambda CreateFunction"
            )
        variables = (r.inputs.get("environment") or {}).get("variables") or {}
        size = sum(len(str(k)) + len(str(v)) for k, v in variables.items())
        if size > 4096:
            yield Problem(_label(r), "environment", f"is {size} bytes; Lambda allows 4 KB in all", "Lambda quotas")


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
                _label(r),
                "identifier",
                f"is not a valid DB instance identifier: {identifier!r}",
                "RDS CreateDBInstance",
            )
        final = r.inputs.get("finalSnapshotIdentifier")
        if not r.inputs.get("skipFinalSnapshot") and not final:
            yield Problem(
                _label(r), "finalSnapshotIdentifier", "is required unless skipFinalSnapshot", "RDS DeleteDBInstance"
            )
        if final and not _named(pattern, str(final), 255):
            yield Problem(
                _label(r),
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
                    _label(r),
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
                _label(r), "name", f"is not a valid parameter name: {name!r}", "SSM parameter name constraints"
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
                _label(balancer),
                "securityGroups",
                "must allow HTTPS out to the identity provider (OIDC token and user info endpoints)",
                "ALB guide, authenticate users",
            )
        if balancer.inputs.get("internal"):
            for vpc in recording.of_type("awsx:ec2:Vpc"):
                if (vpc.inputs.get("natGateways") or {}).get("strategy") in (None, "None"):
                    yield Problem(
                        _label(balancer),
                        "internal",
                        "an internal load balancer with OIDC needs a NAT gateway to reach the identity provider",
                        "ALB guide, authenticate users",
                    )


def resource_problems(recording: Recording) -> list[Problem]:
    """Everything AWS would refuse in what the program declared."""
    problems: list[Problem] = []
    for resource in recording.resources:
        if resource.type in MODEL_MAPPINGS:
            problems.extend(_model_problems(resource))
    for check in RULES:
        problems.extend(check(recording))
    return problems
