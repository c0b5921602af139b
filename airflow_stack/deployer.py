"""`airflow-stack deployer-policy --stack S --account ID`: the IAM policy of the role that runs `pulumi up -s S`.

Generated from the resource types the program declares for the stack (run offline, as `make plan` runs it):
for each, the calls Pulumi's AWS provider makes to create, read, update, tag and delete it, limited to the
stack's own resources wherever the service can name them: `airflow-<stack>-*` names, the stack's IAM path
`/airflow-<stack>/` for roles and policies (roles may be passed only to the services that run them, and only
the stack's policies and its `workerPolicyArns` attached), its log groups, its schedule group. EC2 and Cloud
Map resources are named by IDs AWS assigns, so those actions are limited to the stack's Region instead. The
Pulumi state bucket and secrets key that `airflow-stack bootstrap` made are included: the role can read and
write the stacks' state and nothing else of the account's.

One declaration (GRANTS) serves this policy and `preflight`'s check of the deploying principal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_stack import smoke
from airflow_stack.bootstrap import KEY_ALIAS
from contracts.stacks import PROJECT
from infra.settings.model import REGION_PARTITIONS

# IAM's limit on a customer managed policy, whitespace not counted
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html, "IAM and STS character limits").
MANAGED_POLICY_MAX_CHARS = 6144


@dataclass(frozen=True)
class Grant:
    """Actions on resources, for the resource types that need them. Resources and condition values are
    templates: {partition} {region} {account} {prefix} (airflow-dev) {stack} (dev) {logs} (/airflow/dev)."""

    sid: str
    types: frozenset[str]
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _types(*names: str) -> frozenset[str]:
    return frozenset(names)


ARN = "arn:{partition}"
REGION = {"StringEquals": {"aws:RequestedRegion": "{region}"}}
NETWORK = _types(
    "awsx:ec2:Vpc",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
)
ROLES = _types(
    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
)

GRANTS: tuple[Grant, ...] = (
    Grant(
        "Network",  # VPC, subnets, routes, gateways, security groups: EC2 names them by ID
        NETWORK,
        (
            "ec2:Describe*",
            "ec2:CreateVpc",
            "ec2:DeleteVpc",
            "ec2:ModifyVpcAttribute",
            "ec2:CreateSubnet",
            "ec2:DeleteSubnet",
            "ec2:ModifySubnetAttribute",
            "ec2:CreateRouteTable",
            "ec2:DeleteRouteTable",
            "ec2:CreateRoute",
            "ec2:DeleteRoute",
            "ec2:ReplaceRoute",
            "ec2:AssociateRouteTable",
            "ec2:DisassociateRouteTable",
            "ec2:CreateInternetGateway",
            "ec2:DeleteInternetGateway",
            "ec2:AttachInternetGateway",
            "ec2:DetachInternetGateway",
            "ec2:CreateNatGateway",
            "ec2:DeleteNatGateway",
            "ec2:AllocateAddress",
            "ec2:ReleaseAddress",
            "ec2:DisassociateAddress",
            "ec2:CreateSecurityGroup",
            "ec2:DeleteSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:ModifySecurityGroupRules",
            "ec2:CreateTags",
            "ec2:DeleteTags",
        ),
        condition=REGION,
    ),
    Grant(
        "Cluster",
        _types(
            "aws:ecs/cluster:Cluster",
            "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
            "aws:ecs/service:Service",
            "aws:ecs/taskDefinition:TaskDefinition",
        ),
        (
            "ecs:CreateCluster",
            "ecs:DeleteCluster",
            "ecs:UpdateCluster",
            "ecs:PutClusterCapacityProviders",
            "ecs:CreateService",
            "ecs:UpdateService",
            "ecs:DeleteService",
            "ecs:TagResource",
            "ecs:UntagResource",
            "ecs:DeleteTaskDefinitions",
        ),
        (
            ARN + ":ecs:{region}:{account}:cluster/{prefix}",
            ARN + ":ecs:{region}:{account}:service/{prefix}/*",
            ARN + ":ecs:{region}:{account}:task-definition/{prefix}-*:*",
        ),
    ),
    Grant(
        "TaskDefinitions",  # no resource-level permissions (Service Authorization Reference, Amazon ECS)
        _types("aws:ecs/taskDefinition:TaskDefinition", "aws:ecs/service:Service", "aws:ecs/cluster:Cluster"),
        ("ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:Describe*", "ecs:List*"),
        condition=REGION,
    ),
    Grant(
        "OneOffTasks",  # after `pulumi up`: `preflight --probe` (a worker task) and `smoke` (a dag-processor task)
        _types("aws:ecs/service:Service"),
        ("ecs:RunTask",),
        (ARN + ":ecs:{region}:{account}:task-definition/{prefix}-*:*",),
        {"ArnEquals": {"ecs:cluster": ARN + ":ecs:{region}:{account}:cluster/{prefix}"}},
    ),
    Grant(
        "OneOffTaskStopsAndTags",  # the probe tags its task (tag-on-create needs ecs:TagResource) and stops it
        _types("aws:ecs/service:Service"),
        ("ecs:StopTask", "ecs:TagResource"),
        (ARN + ":ecs:{region}:{account}:task/{prefix}/*",),
    ),
    Grant(
        "SmokeDagAndLogs",  # `smoke` checks the smoke DAG is shipped and reads its task's log
        _types("aws:s3/bucket:Bucket"),
        ("s3:GetObject",),
        (
            ARN + ":s3:::{prefix}-*/" + smoke.DAG_FILE,
            ARN + ":s3:::{prefix}-*/logs/dag_id=" + smoke.DAG_ID + "/*",
        ),
    ),
    Grant(
        "Roles",
        ROLES,
        (
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:UpdateRole",
            "iam:UpdateRoleDescription",
            "iam:UpdateAssumeRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
        ),
        (ARN + ":iam::{account}:role/{prefix}/*",),
    ),
    Grant(
        "AttachOnlyTheStacksPolicies",  # and the worker policies its settings name (`{attachable}`)
        _types("aws:iam/rolePolicyAttachment:RolePolicyAttachment"),
        ("iam:AttachRolePolicy", "iam:DetachRolePolicy"),
        (ARN + ":iam::{account}:role/{prefix}/*",),
        {"ArnLike": {"iam:PolicyARN": "{attachable}"}},
    ),
    Grant(
        "PassRolesToTheirServices",
        ROLES,
        ("iam:PassRole",),
        (ARN + ":iam::{account}:role/{prefix}/*",),
        {"StringEquals": {"iam:PassedToService": "{passed_to}"}},
    ),
    Grant(
        "OperatorPolicy",
        _types("aws:iam/policy:Policy"),
        (
            "iam:CreatePolicy",
            "iam:DeletePolicy",
            "iam:CreatePolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:ListPolicyVersions",
            "iam:TagPolicy",
            "iam:UntagPolicy",
        ),
        (ARN + ":iam::{account}:policy/{prefix}/*",),
    ),
    Grant(
        "ServiceLinkedRoles",  # ECS, Elastic Load Balancing and RDS create theirs on first use in an account
        _types("aws:ecs/cluster:Cluster", "aws:lb/loadBalancer:LoadBalancer", "aws:rds/instance:Instance"),
        ("iam:CreateServiceLinkedRole",),
        (ARN + ":iam::{account}:role/aws-service-role/*",),
        {
            "StringEquals": {
                "iam:AWSServiceName": [
                    "ecs.amazonaws.com",
                    "elasticloadbalancing.amazonaws.com",
                    "rds.amazonaws.com",
                ]
            }
        },
    ),
    Grant(
        "Bucket",
        _types(
            "aws:s3/bucket:Bucket",
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "aws:s3/bucketNotification:BucketNotification",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketVersioning:BucketVersioning",
        ),
        (
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:GetBucket*",
            "s3:GetEncryptionConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:GetAccelerateConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:ListBucket",
            "s3:PutBucketVersioning",
            "s3:PutEncryptionConfiguration",
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketOwnershipControls",
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketNotification",
            "s3:PutBucketTagging",
        ),
        (ARN + ":s3:::{prefix}-*",),
    ),
    Grant(
        "Queues",
        _types("aws:sqs/queue:Queue", "aws:sqs/queuePolicy:QueuePolicy"),
        (
            "sqs:CreateQueue",
            "sqs:DeleteQueue",
            "sqs:GetQueueAttributes",
            "sqs:SetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:TagQueue",
            "sqs:UntagQueue",
            "sqs:ListQueueTags",
        ),
        (ARN + ":sqs:{region}:{account}:{prefix}-*",),
    ),
    Grant(
        "AlarmTopic",
        _types("aws:sns/topic:Topic", "aws:sns/topicSubscription:TopicSubscription"),
        (
            "sns:CreateTopic",
            "sns:DeleteTopic",
            "sns:GetTopicAttributes",
            "sns:SetTopicAttributes",
            "sns:Subscribe",
            "sns:Unsubscribe",
            "sns:GetSubscriptionAttributes",
            "sns:TagResource",
            "sns:UntagResource",
            "sns:ListTagsForResource",
        ),
        (ARN + ":sns:{region}:{account}:{prefix}-*",),
    ),
    Grant(
        "Secret",
        _types("aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretVersion:SecretVersion"),
        (
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:GetSecretValue",
            "secretsmanager:GetResourcePolicy",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
        ),
        (ARN + ":secretsmanager:{region}:{account}:secret:{prefix}-*",),
    ),
    Grant(
        "Parameters",
        _types("aws:ssm/parameter:Parameter"),
        (
            "ssm:PutParameter",
            "ssm:GetParameter",
            "ssm:GetParameters",
            "ssm:DeleteParameter",
            "ssm:AddTagsToResource",
            "ssm:RemoveTagsFromResource",
            "ssm:ListTagsForResource",
        ),
        (ARN + ":ssm:{region}:{account}:parameter/{prefix}/*",),
    ),
    Grant(
        "LogGroups",
        _types("aws:cloudwatch/logGroup:LogGroup"),
        (
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:ListTagsForResource",
            "logs:ListTagsLogGroup",
            "logs:TagLogGroup",
        ),
        (
            ARN + ":logs:{region}:{account}:log-group:{logs}/*",
            ARN + ":logs:{region}:{account}:log-group:/aws/lambda/{prefix}-*",
            ARN + ":logs:{region}:{account}:log-group:/aws/rds/instance/{prefix}/*",
        ),
    ),
    Grant(
        "Reads",  # Describe and List calls that take no resource (Service Authorization Reference)
        _types(
            "aws:cloudwatch/logGroup:LogGroup", "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:ssm/parameter:Parameter"
        ),
        ("logs:DescribeLogGroups", "cloudwatch:DescribeAlarms", "ssm:DescribeParameters"),
        condition=REGION,
    ),
    Grant(
        "Alarms",
        _types("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/dashboard:Dashboard"),
        (
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:ListTagsForResource",
            "cloudwatch:PutDashboard",
            "cloudwatch:GetDashboard",
            "cloudwatch:DeleteDashboards",
        ),
        (
            ARN + ":cloudwatch:{region}:{account}:alarm:{prefix}-*",
            ARN + ":cloudwatch::{account}:dashboard/{prefix}*",
        ),
    ),
    Grant(
        "DagChangeRule",
        _types("aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"),
        (
            "events:PutRule",
            "events:DeleteRule",
            "events:DescribeRule",
            "events:PutTargets",
            "events:RemoveTargets",
            "events:ListTargetsByRule",
            "events:TagResource",
            "events:UntagResource",
            "events:ListTagsForResource",
        ),
        (ARN + ":events:{region}:{account}:rule/{prefix}-*",),
    ),
    Grant(
        "Schedules",
        _types("aws:scheduler/schedule:Schedule", "aws:scheduler/scheduleGroup:ScheduleGroup"),
        (
            "scheduler:CreateScheduleGroup",
            "scheduler:DeleteScheduleGroup",
            "scheduler:GetScheduleGroup",
            "scheduler:CreateSchedule",
            "scheduler:UpdateSchedule",
            "scheduler:DeleteSchedule",
            "scheduler:GetSchedule",
            "scheduler:TagResource",
            "scheduler:UntagResource",
            "scheduler:ListTagsForResource",
        ),
        (
            ARN + ":scheduler:{region}:{account}:schedule-group/{prefix}",
            ARN + ":scheduler:{region}:{account}:schedule/{prefix}/*",
        ),
    ),
    Grant(
        "Functions",
        _types("aws:lambda/function:Function", "aws:lambda/permission:Permission", "aws:lambda/invocation:Invocation"),
        (
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:GetFunctionCodeSigningConfig",
            "lambda:GetFunctionConcurrency",
            "lambda:GetRuntimeManagementConfig",
            "lambda:ListVersionsByFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:GetPolicy",
            "lambda:InvokeFunction",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:ListTags",
        ),
        (ARN + ":lambda:{region}:{account}:function:{prefix}-*",),
    ),
    Grant(
        "LoadBalancer",
        _types(
            "aws:lb/loadBalancer:LoadBalancer",
            "aws:lb/listener:Listener",
            "aws:lb/listenerRule:ListenerRule",
            "aws:lb/targetGroup:TargetGroup",
            "aws:lb/targetGroupAttachment:TargetGroupAttachment",
        ),
        (
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:ModifyLoadBalancerAttributes",
            "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:CreateRule",
            "elasticloadbalancing:DeleteRule",
            "elasticloadbalancing:ModifyRule",
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes",
            "elasticloadbalancing:RegisterTargets",
            "elasticloadbalancing:DeregisterTargets",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
        ),
        (
            ARN + ":elasticloadbalancing:{region}:{account}:loadbalancer/app/{prefix}-*/*",
            ARN + ":elasticloadbalancing:{region}:{account}:listener/app/{prefix}-*/*",
            ARN + ":elasticloadbalancing:{region}:{account}:listener-rule/app/{prefix}-*/*",
            ARN + ":elasticloadbalancing:{region}:{account}:targetgroup/{prefix}-*/*",
        ),
    ),
    Grant(
        "LoadBalancerReads",
        _types("aws:lb/loadBalancer:LoadBalancer"),
        ("elasticloadbalancing:Describe*", "acm:DescribeCertificate"),
        condition=REGION,
    ),
    Grant(
        "Database",  # the instance by its identifier; its parameter and subnet groups by Pulumi's names
        _types("aws:rds/instance:Instance", "aws:rds/parameterGroup:ParameterGroup", "aws:rds/subnetGroup:SubnetGroup"),
        (
            "rds:CreateDBInstance",
            "rds:RestoreDBInstanceFromDBSnapshot",
            "rds:DeleteDBInstance",
            "rds:ModifyDBInstance",
            "rds:RebootDBInstance",
            "rds:CreateDBSnapshot",
            "rds:CreateDBParameterGroup",
            "rds:ModifyDBParameterGroup",
            "rds:DeleteDBParameterGroup",
            "rds:CreateDBSubnetGroup",
            "rds:ModifyDBSubnetGroup",
            "rds:DeleteDBSubnetGroup",
            "rds:AddTagsToResource",
            "rds:RemoveTagsFromResource",
            "rds:ListTagsForResource",
            "rds:Describe*",
        ),
        condition=REGION,
    ),
    Grant(
        "DatabaseEncryption",  # RDS encrypts with the account's aws/rds key through grants it creates for itself
        _types("aws:rds/instance:Instance"),
        ("kms:DescribeKey", "kms:CreateGrant"),
        condition={"StringEquals": {"kms:ViaService": "rds.{region}.amazonaws.com"}},
    ),
    Grant(
        "Repository",
        _types("aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy", "awsx:ecr:Image"),
        (
            "ecr:CreateRepository",
            "ecr:DeleteRepository",
            "ecr:DescribeRepositories",
            "ecr:PutLifecyclePolicy",
            "ecr:GetLifecyclePolicy",
            "ecr:DeleteLifecyclePolicy",
            "ecr:PutImageScanningConfiguration",
            "ecr:PutImageTagMutability",
            "ecr:TagResource",
            "ecr:UntagResource",
            "ecr:ListTagsForResource",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            "ecr:BatchGetImage",
            "ecr:DescribeImages",
        ),
        (ARN + ":ecr:{region}:{account}:repository/{prefix}",),
    ),
    Grant(
        "RegistryLogin",  # no resource-level permissions
        _types("awsx:ecr:Image"),
        ("ecr:GetAuthorizationToken",),
    ),
    Grant(
        "ServiceDiscovery",  # Cloud Map names namespaces and services by ID; its namespace is a Route 53 zone
        _types("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace", "aws:servicediscovery/service:Service"),
        (
            "servicediscovery:CreatePrivateDnsNamespace",
            "servicediscovery:DeleteNamespace",
            "servicediscovery:GetNamespace",
            "servicediscovery:GetOperation",
            "servicediscovery:CreateService",
            "servicediscovery:DeleteService",
            "servicediscovery:GetService",
            "servicediscovery:UpdateService",
            "servicediscovery:TagResource",
            "servicediscovery:UntagResource",
            "servicediscovery:ListTagsForResource",
            "route53:CreateHostedZone",
            "route53:DeleteHostedZone",
            "route53:GetHostedZone",
            "route53:ListHostedZonesByName",
            "route53:ChangeResourceRecordSets",
            "route53:ListResourceRecordSets",
            "route53:GetChange",
        ),
        condition=REGION,
    ),
    Grant(
        "PreflightReads",  # `airflow-stack preflight` run as the deploying role: Lambda's account settings
        _types("aws:ecs/cluster:Cluster"),
        ("lambda:GetAccountSettings",),
        condition=REGION,
    ),
    Grant(
        "PreflightIdentity",  # ...and whether the service-linked roles exist, and what the role itself may do
        _types("aws:ecs/cluster:Cluster"),
        ("iam:GetRole", "iam:SimulatePrincipalPolicy"),
        (ARN + ":iam::{account}:role/*",),
    ),
    Grant(
        "AlarmTopicKey",  # created with the stack's tags, and used only by keys that carry them
        _types("aws:kms/key:Key"),
        ("kms:CreateKey",),
        condition={"StringEquals": {"aws:RequestTag/Stack": "{stack}"}},
    ),
    Grant(
        "AlarmTopicKeyUse",
        _types("aws:kms/key:Key"),
        (
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:PutKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:EnableKeyRotation",
            "kms:ListResourceTags",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:ScheduleKeyDeletion",
        ),
        condition={"StringEquals": {"aws:ResourceTag/Stack": "{stack}"}},
    ),
)

# Services the stack's roles are passed to (their trust policies name them).
PASSED_TO = ("ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "scheduler.amazonaws.com")
# Policies the stack attaches that are not its own: none of AWS's managed policies is used.


def state_statements(partition: str, state_bucket: str) -> list[dict[str, Any]]:
    """Pulumi's state (the bucket) and config secrets (the key behind the bootstrap alias)."""
    bucket = f"arn:{partition}:s3:::{state_bucket}"
    return [
        {
            "Sid": "PulumiStateBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": bucket,
        },
        {
            "Sid": "PulumiState",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{bucket}/*",
        },
        {
            "Sid": "PulumiSecretsKey",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": KEY_ALIAS}},
        },
    ]


@dataclass(frozen=True)
class Target:
    """What the templates are filled with."""

    partition: str
    region: str
    account: str
    stack: str
    attachable: tuple[str, ...] = ()  # policy ARNs the stack attaches beyond its own (workerPolicyArns)
    fernet_key_from: str | None = None  # another stack's secret `pulumi up` reads (secrets.fernetKeyFrom)
    restore_from_snapshot: str | None = None  # a snapshot `pulumi up` restores from (database.restoreFromSnapshot)

    @property
    def prefix(self) -> str:
        return f"{PROJECT}-{self.stack}"

    def fill(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if value == "{attachable}":
            return [self.fill(ARN + ":iam::{account}:policy/{prefix}/*"), *self.attachable]
        if value == "{passed_to}":
            return list(PASSED_TO)
        return value.format(
            partition=self.partition,
            region=self.region,
            account=self.account,
            prefix=self.prefix,
            stack=self.stack,
            logs=f"/{PROJECT}/{self.stack}",
        )


def grants_for(resource_types: Iterable[str]) -> list[Grant]:
    declared = set(resource_types)
    return [g for g in GRANTS if g.types & declared]


def statements(target: Target, resource_types: Iterable[str]) -> list[dict[str, Any]]:
    """The stack's statements, without Pulumi's state (see `policy`)."""
    result = []
    for grant in grants_for(resource_types):
        statement: dict[str, Any] = {
            "Sid": grant.sid,
            "Effect": "Allow",
            "Action": sorted(grant.actions),
            "Resource": target.fill(list(grant.resources)) if grant.resources != ("*",) else "*",
        }
        if grant.condition:
            statement["Condition"] = target.fill(dict(grant.condition))
        result.append(statement)
    if target.fernet_key_from:
        result.append(
            {
                "Sid": "SourceFernetKey",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": target.fernet_key_from,
            }
        )
    if target.restore_from_snapshot:
        snapshot = target.restore_from_snapshot
        arn = (
            snapshot
            if snapshot.startswith("arn:")
            else target.fill(ARN + ":rds:{region}:{account}:snapshot:") + snapshot
        )
        result.append(
            {
                "Sid": "RestoreFromSnapshot",
                "Effect": "Allow",
                "Action": "rds:RestoreDBInstanceFromDBSnapshot",
                "Resource": arn,
            }
        )
    return result


def policy(target: Target, resource_types: Iterable[str], state_bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": statements(target, resource_types) + state_statements(target.partition, state_bucket),
    }


def documents(target: Target, resource_types: Iterable[str], state_bucket: str) -> list[dict[str, Any]]:
    """The policy as managed policies within IAM's size limit, statements in order (a role takes 10 managed
    policies by default; the stack needs two or three)."""
    parts: list[list[dict[str, Any]]] = [[]]
    for statement in policy(target, resource_types, state_bucket)["Statement"]:
        if parts[-1] and policy_chars(_document(parts[-1] + [statement])) > MANAGED_POLICY_MAX_CHARS:
            parts.append([])
        parts[-1].append(statement)
    return [_document(part) for part in parts]


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def policy_chars(document: Mapping[str, Any]) -> int:
    """Characters IAM counts against its size limit: the JSON without whitespace."""
    return len(re.sub(r"\s", "", json.dumps(document)))


def preflight_actions(resource_types: Iterable[str]) -> dict[str, list[str]]:
    """Per Grant: the actions without wildcards (what `iam:SimulatePrincipalPolicy` can be asked about)."""
    return {g.sid: sorted(a for a in g.actions if "*" not in a) for g in grants_for(resource_types)}


def target_of(settings: Any, account: str) -> Target:
    """The stack's target from its settings (infra.settings.Settings)."""
    return Target(
        partition=REGION_PARTITIONS[settings.region],
        region=settings.region,
        account=account,
        stack=settings.stack,
        attachable=tuple(settings.services.worker_policy_arns),
        fernet_key_from=settings.secrets.fernet_key_from,
        restore_from_snapshot=settings.database.restore_from_snapshot,
    )


def policy_name(stack: str, index: int) -> str:
    """Outside the stack's IAM path on purpose: the deploying role may change the stack's policies, not its own."""
    return f"{PROJECT}-{stack}-deployer-{index}"
