"""`airflow-stack preflight --stack S`: read-only checks of the target account before the first `pulumi up`.

Each check prints one line, ok, warn or FAIL, with the fix. Nothing is created or changed: every call is a
read (Describe, Get, List, Simulate). The stack's settings come from Pulumi.<stack>.yaml, and what
`pulumi up` will create comes from the program itself, run offline under Pulumi's mocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Level = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True)
class Check:
    level: Level
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.level:<4}  {self.name}: {self.detail}" + (f"\n      fix: {self.fix}" if self.fix else "")


# The actions `pulumi up` needs for each kind of resource the program declares (create, tag, describe and
# delete, as the AWS provider calls them).
DEPLOY_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws:cloudwatch/dashboard:Dashboard": ("cloudwatch:PutDashboard", "cloudwatch:GetDashboard"),
    "aws:cloudwatch/eventRule:EventRule": ("events:PutRule", "events:DescribeRule", "events:TagResource"),
    "aws:cloudwatch/eventTarget:EventTarget": ("events:PutTargets", "events:ListTargetsByRule"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DescribeLogGroups"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2:CreateSecurityGroup", "ec2:DescribeSecurityGroups", "ec2:CreateTags"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("ecr:PutLifecyclePolicy",),
    "aws:ecr/repository:Repository": ("ecr:CreateRepository", "ecr:DescribeRepositories"),
    "aws:ecs/cluster:Cluster": ("ecs:CreateCluster", "ecs:DescribeClusters", "ecs:TagResource"),
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": ("ecs:PutClusterCapacityProviders",),
    "aws:ecs/service:Service": ("ecs:CreateService", "ecs:DescribeServices", "ecs:UpdateService"),
    "aws:ecs/taskDefinition:TaskDefinition": ("ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"),
    "aws:iam/policy:Policy": ("iam:CreatePolicy", "iam:GetPolicy", "iam:GetPolicyVersion"),
    "aws:iam/role:Role": ("iam:CreateRole", "iam:GetRole", "iam:TagRole", "iam:PassRole"),
    "aws:iam/rolePolicy:RolePolicy": ("iam:PutRolePolicy", "iam:GetRolePolicy"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam:AttachRolePolicy",),
    "aws:kms/key:Key": ("kms:CreateKey", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:PutKeyPolicy"),
    "aws:lambda/function:Function": ("lambda:CreateFunction", "lambda:GetFunction", "lambda:UpdateFunctionCode"),
    "aws:lambda/invocation:Invocation": ("lambda:InvokeFunction",),
    "aws:lambda/permission:Permission": ("lambda:AddPermission", "lambda:GetPolicy"),
    "aws:lb/listener:Listener": ("elasticloadbalancing:CreateListener", "elasticloadbalancing:DescribeListeners"),
    "aws:lb/listenerRule:ListenerRule": ("elasticloadbalancing:CreateRule", "elasticloadbalancing:DescribeRules"),
    "aws:lb/loadBalancer:LoadBalancer": (
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
    ),
    "aws:lb/targetGroup:TargetGroup": (
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:DescribeTargetGroups",
    ),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": ("elasticloadbalancing:RegisterTargets",),
    "aws:rds/instance:Instance": (
        "rds:CreateDBInstance",
        "rds:DescribeDBInstances",
        "rds:ModifyDBInstance",
        "rds:AddTagsToResource",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("rds:CreateDBParameterGroup", "rds:ModifyDBParameterGroup"),
    "aws:rds/subnetGroup:SubnetGroup": ("rds:CreateDBSubnetGroup", "rds:DescribeDBSubnetGroups"),
    "aws:s3/bucket:Bucket": ("s3:CreateBucket", "s3:ListBucket", "s3:PutBucketTagging"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "aws:s3/bucketNotification:BucketNotification": ("s3:PutBucketNotification",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:PutBucketPolicy",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:PutEncryptionConfiguration",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("s3:PutBucketVersioning",),
    "aws:scheduler/schedule:Schedule": ("scheduler:CreateSchedule", "scheduler:GetSchedule"),
    "aws:scheduler/scheduleGroup:ScheduleGroup": ("scheduler:CreateScheduleGroup", "scheduler:GetScheduleGroup"),
    "aws:secretsmanager/secret:Secret": ("secretsmanager:CreateSecret", "secretsmanager:DescribeSecret"),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretsmanager:PutSecretValue",),
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": ("servicediscovery:CreatePrivateDnsNamespace",),
    "aws:servicediscovery/service:Service": ("servicediscovery:CreateService",),
    "aws:sns/topic:Topic": ("sns:CreateTopic", "sns:GetTopicAttributes"),
    "aws:sqs/queue:Queue": ("sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes"),
    "aws:sqs/queuePolicy:QueuePolicy": ("sqs:SetQueueAttributes",),
    "aws:ssm/parameter:Parameter": ("ssm:PutParameter", "ssm:GetParameter"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("ec2:AuthorizeSecurityGroupEgress",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("ec2:AuthorizeSecurityGroupIngress",),
    "awsx:ec2:Vpc": ("ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateRouteTable", "ec2:CreateInternetGateway"),
    "awsx:ecr:Image": ("ecr:GetAuthorizationToken", "ecr:InitiateLayerUpload", "ecr:PutImage"),
}

LAMBDA_CONCURRENCY_QUOTA = "L-B99A9384"  # Service Quotas code of Lambda's concurrent executions


def lambda_concurrency(lambda_client: Any) -> Check:
    limits = lambda_client.get_account_settings()["AccountLimit"]
    total, unreserved = limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]
    detail = f"{total} concurrent executions, {unreserved} unreserved; the stack reserves none (the waker uses a lease)"
    if unreserved < 10:
        return Check(
            "warn",
            "Lambda concurrency",
            detail,
            f"other functions can starve the waker; request more (Service Quotas, Lambda, {LAMBDA_CONCURRENCY_QUOTA})",
        )
    return Check("ok", "Lambda concurrency", detail)


def database_orderable(rds: Any, engine_major: str, instance_class: str, region: str) -> Check:
    options = rds.describe_orderable_db_instance_options(Engine="postgres", DBInstanceClass=instance_class)
    versions = sorted(
        {
            o["EngineVersion"]
            for o in options["OrderableDBInstanceOptions"]
            if o["EngineVersion"].split(".")[0] == engine_major
        },
        key=lambda v: [int(p) if p.isdigit() else 0 for p in v.split(".")],
    )
    if versions:
        return Check(
            "ok", "RDS", f"{instance_class} with PostgreSQL {engine_major} is orderable ({versions[-1]} newest)"
        )
    return Check(
        "FAIL",
        "RDS",
        f"{instance_class} with PostgreSQL {engine_major} is not orderable in {region}",
        "pick database.instanceClass and database.engineVersion from "
        f"`aws rds describe-orderable-db-instance-options --engine postgres --region {region}`",
    )


def certificate(acm: Any, arn: str | None, region: str, now: datetime) -> Check | None:
    if arn is None:
        return None
    if arn.split(":")[3] != region:
        return Check("FAIL", "certificate", f"{arn} is in {arn.split(':')[3]}", f"use a certificate in {region}")
    described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    status = described.get("Status")
    if status != "ISSUED":
        return Check("FAIL", "certificate", f"status {status}", "finish its validation, or import an issued one")
    expires = described.get("NotAfter")
    if expires and expires - now < timedelta(days=30):
        return Check("warn", "certificate", f"expires {expires:%Y-%m-%d}", "renew or replace it soon")
    return Check("ok", "certificate", f"issued, in {region}" + (f", valid until {expires:%Y-%m-%d}" if expires else ""))


SERVICE_LINKED_ROLES = {
    "AWSServiceRoleForECS": "ecs.amazonaws.com",
    "AWSServiceRoleForElasticLoadBalancing": "elasticloadbalancing.amazonaws.com",
}


def service_linked_roles(iam: Any, load_balancer: bool) -> Iterable[Check]:
    for role, service in SERVICE_LINKED_ROLES.items():
        if role.endswith("ElasticLoadBalancing") and not load_balancer:
            continue
        try:
            iam.get_role(RoleName=role)
            yield Check("ok", "service-linked role", role)
        except iam.exceptions.NoSuchEntityException:
            yield Check(
                "warn",
                "service-linked role",
                f"{role} does not exist yet (the service creates it on first use if the deployer may)",
                f"aws iam create-service-linked-role --aws-service-name {service}",
            )


def fargate_architecture(architecture: str, spot: bool) -> Check:
    """X86_64 on FARGATE is documented for GovCloud; ARM64 (tasks and functions) and Fargate Spot are not, and
    no read-only call can tell whether a task would start."""
    unknown = [
        *(["ARM64 tasks and functions (image.architecture: arm64)"] if architecture == "arm64" else []),
        *(["workers on Fargate Spot (services.workerSpot: true)"] if spot else []),
    ]
    if unknown:
        return Check(
            "warn",
            "Fargate",
            f"{' and '.join(unknown)}: documented for commercial Regions, not for GovCloud",
            "after `pulumi up`, `airflow-stack preflight --stack <stack> --probe` starts one short task on each and "
            "says what started; the fallbacks: image.architecture: x86_64, services.workerSpot: false",
        )
    return Check("ok", "Fargate", f"{architecture} on FARGATE (platform LATEST), as documented for GovCloud")


def principal_arn(caller_arn: str) -> str:
    """The IAM role behind an assumed-role session (what SimulatePrincipalPolicy takes)."""
    parts = caller_arn.split(":")
    if parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller_arn


def deployer_permissions(iam: Any, caller_arn: str, resource_types: Iterable[str]) -> Check:
    needed = sorted({a for t in resource_types for a in DEPLOY_ACTIONS.get(t, ())})
    principal = principal_arn(caller_arn)
    denied: list[str] = []
    for start in range(0, len(needed), 100):
        answer = iam.simulate_principal_policy(PolicySourceArn=principal, ActionNames=needed[start : start + 100])
        denied += [r["EvalActionName"] for r in answer["EvaluationResults"] if r["EvalDecision"] != "allowed"]
    if denied:
        return Check(
            "FAIL",
            "deployer",
            f"{principal} may not {len(denied)} of the {len(needed)} actions `pulumi up` needs: {', '.join(denied)}",
            "grant them to the deploying role (the CI role in .github/workflows/deploy.yml too)",
        )
    return Check("ok", "deployer", f"{principal} may do all {len(needed)} actions `pulumi up` needs")


def fernet_key_source(iam: Any, caller_arn: str, source_secret_arn: str) -> Check:
    """A restored stack's `pulumi up` reads the source stack's secret to copy its Fernet key (secrets.fernetKeyFrom)."""
    principal = principal_arn(caller_arn)
    answer = iam.simulate_principal_policy(
        PolicySourceArn=principal, ActionNames=["secretsmanager:GetSecretValue"], ResourceArns=[source_secret_arn]
    )
    if all(r["EvalDecision"] == "allowed" for r in answer["EvaluationResults"]):
        return Check("ok", "Fernet key", f"{principal} may read {source_secret_arn} to copy its Fernet key")
    return Check(
        "FAIL",
        "Fernet key",
        f"{principal} may not secretsmanager:GetSecretValue on {source_secret_arn} (secrets.fernetKeyFrom): "
        "`pulumi up` copies the source's Fernet key from it",
        "grant it to the deploying role for that secret only; no role of the stack itself needs it",
    )


def run(
    client: Callable[[str], Any],
    *,
    settings: Any,
    resource_types: Iterable[str],
    now: datetime | None = None,
) -> list[Check]:
    """Every check, in order; `client(service)` gives a read-only boto3 client in the stack's region."""
    checks: list[Check] = [lambda_concurrency(client("lambda"))]
    checks.append(
        database_orderable(
            client("rds"), settings.database.engine_version, settings.database.instance_class, settings.region
        )
    )
    cert = certificate(client("acm"), settings.ui.certificate_arn, settings.region, now or datetime.now(UTC))
    if cert is not None:
        checks.append(cert)
    checks += service_linked_roles(client("iam"), settings.ui.load_balancer)
    checks.append(fargate_architecture(settings.image.architecture, settings.services.worker_spot))
    caller = client("sts").get_caller_identity()["Arn"]
    checks.append(deployer_permissions(client("iam"), caller, resource_types))
    if settings.secrets.fernet_key_from:
        checks.append(fernet_key_source(client("iam"), caller, settings.secrets.fernet_key_from))
    return checks
