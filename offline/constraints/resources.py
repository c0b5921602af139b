"""Every declared resource checked: its inputs against the botocore model of the call that creates it, then
the documented rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from offline.constraints.model import Problem, operation_problems
from offline.constraints.recorded import label, path_get, path_set, physical_name, plain
from offline.constraints.rules import RULES
from offline.recording import RecordedResource, Recording

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
        {
            "name": "RoleName",
            "path": "Path",
            "description": "Description",
            "assumeRolePolicy": "AssumeRolePolicyDocument",
        },
    ),
    "aws:iam/rolePolicy:RolePolicy": ("iam", "PutRolePolicy", {"name": "PolicyName", "policy": "PolicyDocument"}),
    "aws:iam/policy:Policy": (
        "iam",
        "CreatePolicy",
        {"name": "PolicyName", "path": "Path", "policy": "PolicyDocument", "description": "Description"},
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


_AUTONAMED = {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:cloudwatch/eventRule:EventRule"}


def _model_problems(resource: RecordedResource) -> Iterator[Problem]:
    service, operation, members = MODEL_MAPPINGS[resource.type]
    params: dict[str, Any] = {}
    for pulumi_path, api_path in members.items():
        value = path_get(plain(resource.inputs), pulumi_path)
        if pulumi_path == "name" and resource.type in _AUTONAMED:
            value = physical_name(resource)
        if value is not None and value != "":
            path_set(params, api_path, value)
    source = f"botocore model of {service} {operation}"
    for message in operation_problems(service, operation, params):
        yield Problem(label(resource), "", message, source)


def resource_problems(recording: Recording) -> list[Problem]:
    """Everything AWS would refuse in what the program declared."""
    problems: list[Problem] = []
    for resource in recording.resources:
        if resource.type in MODEL_MAPPINGS:
            problems.extend(_model_problems(resource))
    for check in RULES:
        problems.extend(check(recording))
    return problems
