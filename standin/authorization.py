"""What IAM checks for each AWS API call the stack makes: the actions, the resources, the condition keys.

Taken from the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
for every operation that some part of the stack (Airflow's components, the Lambdas, the operator command,
the DAG tools) calls. A call missing here is refused by the stand-in: it cannot be checked, so it must
not pass unchecked.

Two rules of AWS that the stand-in AWS (moto) does not follow are modelled here:
- HeadBucket is authorized as `s3:ListBucket` (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html).
- GetObject or HeadObject of a missing key answers 404 only with `s3:ListBucket` on the bucket, 403
  otherwise (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, "Permissions").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

from standin.iam_policy import Context

# Credential-scope (signing) names whose IAM service prefix differs.
IAM_PREFIX = {"monitoring": "cloudwatch", "servicequotas": "servicequotas"}


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: Context = field(default_factory=dict)
    # When the check fails: refuse the call (False), or answer as AWS does for a missing object (True).
    only_if_missing: bool = False


class Unmapped(LookupError):
    """An operation this module has no IAM rule for."""


class Lookups(Protocol):
    """What the stand-in knows about its resources, for resources that requests name indirectly."""

    def secret_arn(self, secret_id: str) -> str | None: ...

    def task_definition_roles(self, task_definition: str) -> tuple[str, list[str]]: ...  # (arn, role arns)

    def object_exists(self, bucket: str, key: str) -> bool: ...

    def role_arn(self, role_name: str) -> str | None: ...  # with its path, as IAM holds it


@dataclass(frozen=True)
class Request:
    partition: str
    region: str
    account: str
    params: Mapping[str, Any]

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"

    def base(self) -> dict[str, str]:
        return {"aws:RequestedRegion": self.region, "aws:SecureTransport": "true"}


Rule = Callable[[Request, Lookups], list[Check]]


def _queue_arn(request: Request, lookups: Lookups) -> str:
    url = str(request.params.get("QueueUrl") or "")
    name = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1] if url else str(request.params.get("QueueName"))
    return request.arn("sqs", name)


def _sqs(action: str) -> Rule:
    return lambda r, lookups: [Check(f"sqs:{action}", _queue_arn(r, lookups), r.base())]


def _secret(action: str) -> Rule:
    def rule(r: Request, lookups: Lookups) -> list[Check]:
        secret_id = str(r.params.get("SecretId"))
        arn = lookups.secret_arn(secret_id) or (
            secret_id if secret_id.startswith("arn:") else r.arn("secretsmanager", f"secret:{secret_id}")
        )
        return [Check(f"secretsmanager:{action}", arn, r.base())]

    return rule


def _parameter(action: str, key: str = "Name") -> Rule:
    def rule(r: Request, lookups: Lookups) -> list[Check]:
        names = r.params.get(key)
        names = names if isinstance(names, list) else [names]
        return [Check(f"ssm:{action}", r.arn("ssm", f"parameter/{str(n).lstrip('/')}"), r.base()) for n in names]

    return rule


def _cluster_arn(r: Request) -> str:
    cluster = str(r.params.get("cluster") or "default")
    return cluster if cluster.startswith("arn:") else r.arn("ecs", f"cluster/{cluster}")


def _cluster_name(r: Request) -> str:
    return _cluster_arn(r).rsplit("/", 1)[-1]


def _ecs_services(action: str) -> Rule:
    def rule(r: Request, lookups: Lookups) -> list[Check]:
        services = r.params.get("services") or [r.params.get("service")]
        context = {**r.base(), "ecs:cluster": _cluster_arn(r)}
        return [
            Check(
                f"ecs:{action}",
                str(s) if str(s).startswith("arn:") else r.arn("ecs", f"service/{_cluster_name(r)}/{s}"),
                context,
            )
            for s in services
        ]

    return rule


def _ecs_tasks(action: str) -> Rule:
    def rule(r: Request, lookups: Lookups) -> list[Check]:
        tasks = r.params.get("tasks") or [r.params.get("task")]
        context = {**r.base(), "ecs:cluster": _cluster_arn(r)}
        return [
            Check(
                f"ecs:{action}",
                str(t) if str(t).startswith("arn:") else r.arn("ecs", f"task/{_cluster_name(r)}/{t}"),
                context,
            )
            for t in tasks
        ]

    return rule


def _pass_role(r: Request, role_arn: str, service: str) -> Check:
    return Check("iam:PassRole", role_arn, {**r.base(), "iam:PassedToService": f"{service}.amazonaws.com"})


def _run_task(r: Request, lookups: Lookups) -> list[Check]:
    arn, roles = lookups.task_definition_roles(str(r.params.get("taskDefinition")))
    checks = [Check("ecs:RunTask", arn, {**r.base(), "ecs:cluster": _cluster_arn(r)})]
    if r.params.get("tags"):
        # Tags given on create need ecs:TagResource on the new task, with ecs:CreateAction
        # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html).
        task = r.arn("ecs", f"task/{_cluster_name(r)}/*")
        checks.append(Check("ecs:TagResource", task, {**r.base(), "ecs:CreateAction": "RunTask"}))
    return checks + [_pass_role(r, role, "ecs-tasks") for role in roles]


def _db(action: str) -> Rule:
    return lambda r, lookups: [
        Check(f"rds:{action}", r.arn("rds", f"db:{r.params.get('DBInstanceIdentifier')}"), r.base())
    ]


def _describe_snapshots(r: Request, lookups: Lookups) -> list[Check]:
    if r.params.get("DBSnapshotIdentifier"):
        return [
            Check("rds:DescribeDBSnapshots", r.arn("rds", f"snapshot:{r.params['DBSnapshotIdentifier']}"), r.base())
        ]
    if r.params.get("DBInstanceIdentifier"):
        return [Check("rds:DescribeDBSnapshots", r.arn("rds", f"db:{r.params['DBInstanceIdentifier']}"), r.base())]
    return [Check("rds:DescribeDBSnapshots", r.arn("rds", "snapshot:*"), r.base())]


def _create_snapshot(r: Request, lookups: Lookups) -> list[Check]:
    return [
        Check("rds:CreateDBSnapshot", r.arn("rds", f"db:{r.params.get('DBInstanceIdentifier')}"), r.base()),
        Check("rds:CreateDBSnapshot", r.arn("rds", f"snapshot:{r.params.get('DBSnapshotIdentifier')}"), r.base()),
        *(
            [Check("rds:AddTagsToResource", r.arn("rds", f"snapshot:{r.params.get('DBSnapshotIdentifier')}"), r.base())]
            if r.params.get("Tags")
            else []
        ),
    ]


def _schedule(action: str) -> Rule:
    def rule(r: Request, lookups: Lookups) -> list[Check]:
        group = r.params.get("GroupName") or "default"
        checks = [
            Check(f"scheduler:{action}", r.arn("scheduler", f"schedule/{group}/{r.params.get('Name')}"), r.base())
        ]
        target = r.params.get("Target") or {}
        if action in ("CreateSchedule", "UpdateSchedule") and target.get("RoleArn"):
            checks.append(_pass_role(r, target["RoleArn"], "scheduler"))
        return checks

    return rule


def _function(action: str) -> Rule:
    def rule(r: Request, lookups: Lookups) -> list[Check]:
        name = str(r.params.get("FunctionName"))
        arn = name if name.startswith("arn:") else r.arn("lambda", f"function:{name}")
        return [Check(f"lambda:{action}", arn, r.base())]

    return rule


def _everything(action: str) -> Rule:
    """Actions with no resource-level permissions: the policy must grant them on `*`."""
    return lambda r, lookups: [Check(action, "*", r.base())]


def _put_metric_data(r: Request, lookups: Lookups) -> list[Check]:
    return [Check("cloudwatch:PutMetricData", "*", {**r.base(), "cloudwatch:namespace": str(r.params["Namespace"])})]


def _log_stream(action: str) -> Rule:
    def rule(r: Request, lookups: Lookups) -> list[Check]:
        group, stream = r.params.get("logGroupName"), r.params.get("logStreamName")
        return [Check(f"logs:{action}", r.arn("logs", f"log-group:{group}:log-stream:{stream}"), r.base())]

    return rule


def _filter_log_events(r: Request, lookups: Lookups) -> list[Check]:
    """Authorised on the log group. Which spelling of its ARN AWS evaluates (with or without the trailing `:*`
    that log-stream-level actions use) is not settled by the reference, so the stand-in asks for both."""
    group = r.arn("logs", f"log-group:{r.params.get('logGroupName')}")
    return [Check("logs:FilterLogEvents", group, r.base()), Check("logs:FilterLogEvents", f"{group}:*", r.base())]


def _listener_rule(action: str) -> Rule:
    return lambda r, lookups: [Check(f"elasticloadbalancing:{action}", str(r.params.get("RuleArn")), r.base())]


def _role(action: str, key: str = "RoleName") -> Rule:
    return lambda r, lookups: [
        Check(f"iam:{action}", r.arn("iam", f"role/{r.params.get(key)}", regional=False), r.base())
    ]


def _simulate(r: Request, lookups: Lookups) -> list[Check]:
    return [Check("iam:SimulatePrincipalPolicy", str(r.params.get("PolicySourceArn")), r.base())]


def _assume_role(r: Request, lookups: Lookups) -> list[Check]:
    return [Check("sts:AssumeRole", str(r.params.get("RoleArn")), r.base())]


def _certificate(r: Request, lookups: Lookups) -> list[Check]:
    return [Check("acm:DescribeCertificate", str(r.params.get("CertificateArn")), r.base())]


def _kms_key(action: str) -> Rule:
    def rule(r: Request, lookups: Lookups) -> list[Check]:
        key = str(r.params.get("KeyId"))
        return [Check(f"kms:{action}", key if key.startswith("arn:") else r.arn("kms", f"key/{key}"), r.base())]

    return rule


def _create_key(r: Request, lookups: Lookups) -> list[Check]:
    """CreateKey is authorised on `*`; tags given with it need kms:TagResource too (AWS KMS Developer Guide,
    "Tags in AWS KMS": permission to tag on creation)."""
    checks = [Check("kms:CreateKey", "*", r.base())]
    if r.params.get("Tags"):
        checks.append(Check("kms:TagResource", "*", r.base()))
    return checks


def _create_alias(r: Request, lookups: Lookups) -> list[Check]:
    """CreateAlias needs kms:CreateAlias on the alias and on the key (AWS KMS Developer Guide, "Controlling
    access to aliases")."""
    key = str(r.params.get("TargetKeyId"))
    key_arn = key if key.startswith("arn:") else r.arn("kms", f"key/{key}")
    alias_arn = r.arn("kms", str(r.params.get("AliasName")))
    return [Check("kms:CreateAlias", alias_arn, r.base()), Check("kms:CreateAlias", key_arn, r.base())]


# --- What `pulumi up` creates (the deploying role's policy, airflow_stack/deployer.py) ----------------------------


def _one(action: str, resource: Callable[[Request], str]) -> Rule:
    return lambda r, lookups: [Check(action, resource(r), r.base())]


def _named_role(r: Request, lookups: Lookups, key: str = "RoleName") -> str:
    name = str(r.params.get(key))
    return lookups.role_arn(name) or r.arn("iam", f"role/{name}", regional=False)


def _create_role(r: Request, lookups: Lookups) -> list[Check]:
    path = str(r.params.get("Path") or "/")
    checks = [Check("iam:CreateRole", r.arn("iam", f"role{path}{r.params.get('RoleName')}", regional=False), r.base())]
    if r.params.get("Tags"):
        checks.append(Check("iam:TagRole", checks[0].resource, r.base()))
    return checks


def _create_policy(r: Request, lookups: Lookups) -> list[Check]:
    path = str(r.params.get("Path") or "/")
    arn = r.arn("iam", f"policy{path}{r.params.get('PolicyName')}", regional=False)
    return [Check("iam:CreatePolicy", arn, r.base())]


def _attach_role_policy(r: Request, lookups: Lookups) -> list[Check]:
    """Authorised on the role, with the policy's ARN as `iam:PolicyARN` (IAM User Guide, "IAM condition keys")."""
    context = {**r.base(), "iam:PolicyARN": str(r.params.get("PolicyArn"))}
    return [Check("iam:AttachRolePolicy", _named_role(r, lookups), context)]


def _register_task_definition(r: Request, lookups: Lookups) -> list[Check]:
    """No resource-level permission; the task and execution roles are passed to ECS tasks."""
    roles = [str(r.params[k]) for k in ("taskRoleArn", "executionRoleArn") if r.params.get(k)]
    return [Check("ecs:RegisterTaskDefinition", "*", r.base())] + [_pass_role(r, role, "ecs-tasks") for role in roles]


def _create_service(r: Request, lookups: Lookups) -> list[Check]:
    arn = r.arn("ecs", f"service/{_cluster_name(r)}/{r.params.get('serviceName')}")
    return [Check("ecs:CreateService", arn, {**r.base(), "ecs:cluster": _cluster_arn(r)})]


def _create_function(r: Request, lookups: Lookups) -> list[Check]:
    arn = r.arn("lambda", f"function:{r.params.get('FunctionName')}")
    return [Check("lambda:CreateFunction", arn, r.base()), _pass_role(r, str(r.params.get("Role")), "lambda")]


def _balancer_child(kind: str, key: str) -> Callable[[Request], str]:
    """A listener of a load balancer, or a rule of a listener: its ARN's path under the parent's."""

    def resource(r: Request) -> str:
        parent = str(r.params.get(key))
        base, _, path = parent.partition(":loadbalancer/" if key == "LoadBalancerArn" else ":listener/")
        return f"{base}:{kind}/{path}/*"

    return resource


RULES: dict[str, Rule] = {
    # SQS: Celery's broker (kombu), the waker's queue depths, asset watchers
    "sqs:GetQueueUrl": _sqs("GetQueueUrl"),
    "sqs:GetQueueAttributes": _sqs("GetQueueAttributes"),
    "sqs:SendMessage": _sqs("SendMessage"),
    "sqs:SendMessageBatch": _sqs("SendMessage"),
    "sqs:ReceiveMessage": _sqs("ReceiveMessage"),
    "sqs:DeleteMessage": _sqs("DeleteMessage"),
    "sqs:DeleteMessageBatch": _sqs("DeleteMessage"),
    "sqs:ChangeMessageVisibility": _sqs("ChangeMessageVisibility"),
    "sqs:ChangeMessageVisibilityBatch": _sqs("ChangeMessageVisibility"),
    "sqs:ListQueues": _everything("sqs:ListQueues"),
    # Secrets Manager: ECS injecting secrets, Airflow's secrets backend
    "secretsmanager:GetSecretValue": _secret("GetSecretValue"),
    "secretsmanager:DescribeSecret": _secret("DescribeSecret"),
    # SSM: the waker's memory, the migration outcome
    "ssm:GetParameter": _parameter("GetParameter"),
    "ssm:GetParameters": _parameter("GetParameters", "Names"),
    "ssm:PutParameter": _parameter("PutParameter"),
    "ssm:DeleteParameter": _parameter("DeleteParameter"),
    # CloudWatch: the activity reporter and the waker
    "cloudwatch:PutMetricData": _put_metric_data,
    "cloudwatch:GetMetricData": _everything("cloudwatch:GetMetricData"),
    # ECS: the waker, the migration runner, the operator command, the worker's scale-in protection
    "ecs:DescribeServices": _ecs_services("DescribeServices"),
    "ecs:UpdateService": _ecs_services("UpdateService"),
    "ecs:DescribeTasks": _ecs_tasks("DescribeTasks"),
    "ecs:UpdateTaskProtection": _ecs_tasks("UpdateTaskProtection"),
    "ecs:GetTaskProtection": _ecs_tasks("GetTaskProtection"),
    "ecs:RunTask": _run_task,
    "ecs:StopTask": _ecs_tasks("StopTask"),
    # No resource-level permissions (Service Authorization Reference, Amazon ECS)
    "ecs:DescribeTaskDefinition": _everything("ecs:DescribeTaskDefinition"),
    # RDS: the waker, the migration runner, the operator command, preflight
    "rds:DescribeDBInstances": _db("DescribeDBInstances"),
    "rds:StartDBInstance": _db("StartDBInstance"),
    "rds:StopDBInstance": _db("StopDBInstance"),
    "rds:DescribeDBSnapshots": _describe_snapshots,
    "rds:CreateDBSnapshot": _create_snapshot,
    "rds:DescribeOrderableDBInstanceOptions": _everything("rds:DescribeOrderableDBInstanceOptions"),
    "rds:DescribeDBEngineVersions": _everything("rds:DescribeDBEngineVersions"),
    # EventBridge Scheduler: the waker's one-time wake
    "scheduler:GetSchedule": _schedule("GetSchedule"),
    "scheduler:CreateSchedule": _schedule("CreateSchedule"),
    "scheduler:UpdateSchedule": _schedule("UpdateSchedule"),
    "scheduler:DeleteSchedule": _schedule("DeleteSchedule"),
    # Elastic Load Balancing: wake on visit
    "elasticloadbalancing:DescribeRules": _everything("elasticloadbalancing:DescribeRules"),
    "elasticloadbalancing:DescribeTargetHealth": _everything("elasticloadbalancing:DescribeTargetHealth"),
    "elasticloadbalancing:ModifyRule": _listener_rule("ModifyRule"),
    # SNS: the waker's notices on the alarm topic
    "sns:Publish": lambda r, lookups: [Check("sns:Publish", str(r.params.get("TopicArn")), r.base())],
    # Lambda: the waking page and the operator command ask the waker
    "lambda:Invoke": _function("InvokeFunction"),
    "lambda:GetFunctionConfiguration": _function("GetFunctionConfiguration"),
    "lambda:GetAccountSettings": _everything("lambda:GetAccountSettings"),
    # Logs written by Lambda and ECS for the stack's roles
    "logs:CreateLogStream": _log_stream("CreateLogStream"),
    "logs:PutLogEvents": _log_stream("PutLogEvents"),
    # The waker reads the api-server's access log (a stack without a load balancer)
    "logs:FilterLogEvents": _filter_log_events,
    # Preflight and staging
    "iam:GetRole": _role("GetRole"),
    "iam:SimulatePrincipalPolicy": _simulate,
    "acm:DescribeCertificate": _certificate,
    "kms:DescribeKey": _kms_key("DescribeKey"),
    # airflow-stack bootstrap: Pulumi's secrets key
    "kms:ListAliases": _everything("kms:ListAliases"),
    "kms:CreateKey": _create_key,
    "kms:EnableKeyRotation": _kms_key("EnableKeyRotation"),
    "kms:CreateAlias": _create_alias,
    "servicequotas:GetServiceQuota": _everything("servicequotas:GetServiceQuota"),
    "ecs:ListAccountSettings": _everything("ecs:ListAccountSettings"),
    "sts:AssumeRole": _assume_role,
    "sts:GetCallerIdentity": lambda r, lookups: [],  # needs no permission
    # What `pulumi up` creates: the calls the stand-in's seed makes for a recorded stack (standin/seed.py)
    "ec2:CreateVpc": _everything("ec2:CreateVpc"),
    "ec2:ModifyVpcAttribute": _everything("ec2:ModifyVpcAttribute"),
    "ec2:CreateSubnet": _everything("ec2:CreateSubnet"),
    "ec2:CreateSecurityGroup": _everything("ec2:CreateSecurityGroup"),
    "sqs:CreateQueue": _sqs("CreateQueue"),
    "secretsmanager:CreateSecret": _one(
        "secretsmanager:CreateSecret", lambda r: r.arn("secretsmanager", f"secret:{r.params.get('Name')}")
    ),
    "logs:CreateLogGroup": _one(
        "logs:CreateLogGroup", lambda r: r.arn("logs", f"log-group:{r.params.get('logGroupName')}")
    ),
    "scheduler:CreateScheduleGroup": _one(
        "scheduler:CreateScheduleGroup", lambda r: r.arn("scheduler", f"schedule-group/{r.params.get('Name')}")
    ),
    "sns:CreateTopic": _one("sns:CreateTopic", lambda r: r.arn("sns", str(r.params.get("Name")))),
    "elasticloadbalancing:CreateLoadBalancer": _one(
        "elasticloadbalancing:CreateLoadBalancer",
        lambda r: r.arn("elasticloadbalancing", f"loadbalancer/app/{r.params.get('Name')}/*"),
    ),
    "elasticloadbalancing:CreateTargetGroup": _one(
        "elasticloadbalancing:CreateTargetGroup",
        lambda r: r.arn("elasticloadbalancing", f"targetgroup/{r.params.get('Name')}/*"),
    ),
    "elasticloadbalancing:CreateListener": _one(
        "elasticloadbalancing:CreateListener", _balancer_child("listener", "LoadBalancerArn")
    ),
    "elasticloadbalancing:CreateRule": _one(
        "elasticloadbalancing:CreateRule", _balancer_child("listener-rule", "ListenerArn")
    ),
    "iam:CreateRole": _create_role,
    "iam:PutRolePolicy": lambda r, lookups: [Check("iam:PutRolePolicy", _named_role(r, lookups), r.base())],
    "iam:CreatePolicy": _create_policy,
    "iam:AttachRolePolicy": _attach_role_policy,
    "ecs:CreateCluster": _one("ecs:CreateCluster", lambda r: r.arn("ecs", f"cluster/{r.params.get('clusterName')}")),
    "ecs:RegisterTaskDefinition": _register_task_definition,
    "ecs:PutClusterCapacityProviders": _one("ecs:PutClusterCapacityProviders", _cluster_arn),
    "ecs:CreateService": _create_service,
    "rds:CreateDBInstance": _db("CreateDBInstance"),
    "lambda:CreateFunction": _create_function,
}

# Object-level S3 actions by moto's name of the request.
_S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "GetObjectTagging": "s3:GetObjectTagging",
}
# Bucket configuration by its subresource (moto names several of these requests CreateBucket).
_S3_BUCKET_SUBRESOURCES = {
    "versioning": "s3:PutBucketVersioning",
    "encryption": "s3:PutEncryptionConfiguration",
    "policy": "s3:PutBucketPolicy",
    "publicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "public_access_block": "s3:PutBucketPublicAccessBlock",
    "ownershipControls": "s3:PutBucketOwnershipControls",
    "tagging": "s3:PutBucketTagging",
}
_S3_BUCKET_PUTS = {"CreateBucket", "PutBucketVersioning", "PutBucketPolicy", "PutPublicAccessBlock", "PutBucketTagging"}
_S3_BUCKET_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListBucket": "s3:ListBucket",
    "ListBucketVersions": "s3:ListBucketVersions",
    "GetBucketLocation": "s3:GetBucketLocation",
}


def s3_checks(
    partition: str,
    action: str,
    bucket: str | None,
    key: str | None,
    query: Mapping[str, Any],
    lookups: Lookups,
    deleted_keys: list[str] | None = None,
) -> list[Check]:
    """IAM checks for an S3 request, from moto's name for it (its `Action`), the bucket and the key."""
    base = {"aws:SecureTransport": "true"}
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    if action == "DeleteObject" and deleted_keys is not None:  # DeleteObjects: each key is a DeleteObject
        return [Check("s3:DeleteObject", f"{bucket_arn}/{k}", base) for k in deleted_keys]
    if key is not None and action in _S3_OBJECT_ACTIONS:
        iam_action = _S3_OBJECT_ACTIONS[action]
        if action == "GetObject" and "versionId" in query:
            iam_action = "s3:GetObjectVersion"
        checks = [Check(iam_action, f"{bucket_arn}/{key}", base)]
        if action == "GetObject" and bucket and not lookups.object_exists(bucket, key):
            checks.append(Check("s3:ListBucket", bucket_arn, base, only_if_missing=True))
        return checks
    if key is None and action in _S3_BUCKET_PUTS:
        named = [iam for sub, iam in _S3_BUCKET_SUBRESOURCES.items() if sub in query]
        return [Check(named[0] if named else "s3:CreateBucket", bucket_arn, base)]
    if action in _S3_BUCKET_ACTIONS:
        context: dict[str, str] = dict(base)
        for name in ("prefix", "delimiter", "max-keys"):
            if name in query:
                value = query[name]
                context[f"s3:{name}"] = value[0] if isinstance(value, list) else str(value)
        return [Check(_S3_BUCKET_ACTIONS[action], bucket_arn, context)]
    raise Unmapped(f"s3:{action}")


def checks_for(service: str, operation: str, request: Request, lookups: Lookups) -> list[Check]:
    """The IAM checks one API call needs, or `Unmapped` when this module has no rule for it."""
    prefix = IAM_PREFIX.get(service, service)
    rule = RULES.get(f"{prefix}:{operation}")
    if rule is None:
        raise Unmapped(f"{prefix}:{operation}")
    return rule(request, lookups)


def delete_keys(body: str) -> list[str]:
    """The keys of a DeleteObjects request body."""
    return re.findall(r"<Key>(.*?)</Key>", body or "")
