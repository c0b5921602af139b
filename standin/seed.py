"""Seed the stand-in AWS with what the program declares for a stack: its recording under Pulumi's mocks.

Every resource the stack's code calls at run time is created from the recording (the same one `make plan`
prints): the bucket, the queues, the secrets (with generated values, or the ones given), the SSM parameters,
the schedule group, the log groups, the ECS cluster with its task definitions and services at zero, the
database, the load balancer's rule and target groups, the Lambda functions, and every IAM role with the
policies the program declares for it. Identifiers AWS assigns (a secret's ARN suffix, a queue's URL, a
rule's ARN) differ in the stand-in: each is mapped from the recorded one, and the policies, environments and
task definitions are rewritten with the stand-in's, so nothing is copied by hand.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from offline.constraints.recorded import plain
from offline.lambda_archive import archive_bytes
from offline.recording import RecordedResource, Recording
from standin.stand_in import StandIn

AIRFLOW_SECRET = "secrets-airflow"  # noqa: S105 - the logical name of the stack's one Airflow secret


def generated_secret() -> str:
    """32 random bytes in URL-safe base64: a valid Fernet key, and a good secret of any other kind."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def airflow_secret(database_connection: str) -> str:
    """The stack's Airflow secret as the program writes it: this database's connection, generated keys."""
    from infra.airflow_env import ADMIN_PASSWORD, API_SECRET_KEY, CELERY_RESULT_BACKEND, FERNET_KEY, JWT_SECRET
    from infra.components.database import result_backend_url
    from infra.components.secrets import secret_document

    keys = {k: generated_secret() for k in (FERNET_KEY, JWT_SECRET, API_SECRET_KEY, ADMIN_PASSWORD)}
    keys[CELERY_RESULT_BACKEND] = result_backend_url(database_connection, generated_secret())
    return secret_document(database_connection, keys)


@dataclass
class SeededStack:
    recording: Recording
    stand_in: StandIn
    replacements: dict[str, str] = field(default_factory=dict)  # recorded identifier -> stand-in identifier
    secret_values: dict[str, str] = field(default_factory=dict)  # secret resource name -> value
    subnets: list[str] = field(default_factory=list)
    security_group: str = ""
    credentials: dict[str, str] | None = None  # whose calls create it (None: the stand-in's admin)

    def client(self, service: str) -> Any:
        return self.stand_in.client(service, self.credentials)

    def substitute(self, text: str) -> str:
        for recorded in sorted(self.replacements, key=len, reverse=True):
            text = text.replace(recorded, self.replacements[recorded])
        return text

    def substituted(self, value: Any) -> Any:
        return json.loads(self.substitute(json.dumps(plain(value))))

    @property
    def stack(self) -> str:
        return f"airflow-{self.recording.stack}"

    def task_definition(self, component: str) -> RecordedResource:
        family = f"{self.stack}-{component}"
        return next(
            r for r in self.recording.of_type("aws:ecs/taskDefinition:TaskDefinition") if r.inputs["family"] == family
        )

    def task_role(self, component: str) -> str:
        return str(self.task_definition(component).inputs["taskRoleArn"]).rsplit("/", 1)[-1]

    def execution_role(self, component: str) -> str:
        return str(self.task_definition(component).inputs["executionRoleArn"]).rsplit("/", 1)[-1]

    def containers(self, component: str) -> list[dict[str, Any]]:
        return self.substituted(json.loads(self.task_definition(component).inputs["containerDefinitions"]))

    def function(self, logical_name: str) -> RecordedResource:
        return self.recording.one("aws:lambda/function:Function", logical_name)

    def function_role(self, logical_name: str) -> str:
        return str(self.function(logical_name).inputs["role"]).rsplit("/", 1)[-1]

    def function_environment(self, logical_name: str) -> dict[str, str]:
        variables = (self.function(logical_name).inputs.get("environment") or {}).get("variables") or {}
        return {k: self.substitute(str(v)) for k, v in variables.items()}

    def export(self, key: str) -> Any:
        return self.substituted(self.recording.exports[key])

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs as `pulumi stack output --json` would give them, with stand-in identifiers."""
        return {k: self.substituted(v) for k, v in self.recording.exports.items()}

    def secret_arn(self, logical_name: str) -> str:
        recorded = self.recording.one("aws:secretsmanager/secret:Secret", logical_name).outputs["arn"]
        return self.replacements[recorded]


def _role_of_policy(recording: Recording, policy: RecordedResource) -> str:
    logical = str(policy.inputs["role"]).removesuffix("-id")
    return str(recording.one("aws:iam/role:Role", logical).outputs["name"])


def seed(
    stand_in: StandIn,
    recording: Recording,
    *,
    database_connection: str | None = None,
    credentials: dict[str, str] | None = None,
) -> SeededStack:
    """Create the recorded stack's run-time resources in the stand-in; returns how to reach them.
    `database_connection`: the JSON of a real database for Airflow to use (by default one nobody reaches);
    `credentials`: a deploying role's, to make every create call as that role (by default the admin's)."""
    if database_connection is None:
        from infra.components.database import connection_document

        database_connection = connection_document("airflow", generated_secret(), "database.invalid", 5432, "airflow")
    seeded = SeededStack(recording, stand_in, credentials=credentials)
    _network(seeded)
    _storage_and_queues(seeded)
    _secrets(seeded, {AIRFLOW_SECRET: airflow_secret(database_connection)})
    _parameters_and_logs(seeded)
    _topics(seeded)
    _load_balancer(seeded)
    _identity(seeded)
    _ecs(seeded)
    _database(seeded)
    _functions(seeded)
    _schedules(seeded)
    return seeded


def _network(seeded: SeededStack) -> None:
    ec2 = seeded.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the stack's VPC
    for index, zone in enumerate(("a", "b")):
        subnet = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.40.{index * 4}.0/22", AvailabilityZone=f"us-gov-east-1{zone}"
        )
        seeded.subnets.append(subnet["Subnet"]["SubnetId"])
    seeded.security_group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    seeded.replacements["vpc-0123456789abcdef0"] = vpc


def _storage_and_queues(seeded: SeededStack) -> None:
    s3 = seeded.client("s3")
    for bucket in seeded.recording.of_type("aws:s3/bucket:Bucket"):
        s3.create_bucket(
            Bucket=bucket.outputs["bucket"], CreateBucketConfiguration={"LocationConstraint": "us-gov-east-1"}
        )
    sqs = seeded.client("sqs")
    queues = sorted(seeded.recording.of_type("aws:sqs/queue:Queue"), key=lambda q: "redrivePolicy" in q.inputs)
    for queue in queues:  # the dead-letter queue first: the main queue's redrive names it
        attributes = {
            "VisibilityTimeout": str(int(queue.inputs.get("visibilityTimeoutSeconds") or 30)),
            "MessageRetentionPeriod": str(int(queue.inputs.get("messageRetentionSeconds") or 345600)),
        }
        if queue.inputs.get("redrivePolicy"):
            attributes["RedrivePolicy"] = seeded.substitute(str(queue.inputs["redrivePolicy"]))
        url = sqs.create_queue(QueueName=queue.outputs["name"], Attributes=attributes)["QueueUrl"]
        seeded.replacements[queue.outputs["url"]] = url


def _secrets(seeded: SeededStack, given: dict[str, str]) -> None:
    manager = seeded.client("secretsmanager")
    for secret in seeded.recording.of_type("aws:secretsmanager/secret:Secret"):
        value = given.get(secret.name) or generated_secret()
        created = manager.create_secret(Name=secret.outputs["name"], SecretString=value)
        seeded.replacements[secret.outputs["arn"]] = created["ARN"]
        seeded.secret_values[secret.name] = value


def _parameters_and_logs(seeded: SeededStack) -> None:
    ssm = seeded.client("ssm")
    for parameter in seeded.recording.of_type("aws:ssm/parameter:Parameter"):
        value = plain(parameter.inputs.get("value")) or "{}"
        ssm.put_parameter(Name=parameter.outputs["name"], Value=str(value), Type="String")
    logs = seeded.client("logs")
    for group in seeded.recording.of_type("aws:cloudwatch/logGroup:LogGroup"):
        logs.create_log_group(logGroupName=group.outputs["name"])
    scheduler = seeded.client("scheduler")
    for group in seeded.recording.of_type("aws:scheduler/scheduleGroup:ScheduleGroup"):
        scheduler.create_schedule_group(Name=group.outputs["name"])


def _topics(seeded: SeededStack) -> None:
    sns = seeded.client("sns")
    for topic in seeded.recording.of_type("aws:sns/topic:Topic"):
        created = sns.create_topic(Name=topic.outputs["name"])["TopicArn"]
        seeded.replacements[topic.outputs["arn"]] = created


def _schedules(seeded: SeededStack) -> None:
    """The recurring schedules as declared, targets and roles as the stand-in knows them (the waker switches
    its minute tick on and off with UpdateSchedule, passing the scheduler's role)."""
    scheduler = seeded.client("scheduler")
    for schedule in seeded.recording.of_type("aws:scheduler/schedule:Schedule"):
        target = schedule.inputs["target"]
        scheduler.create_schedule(
            GroupName=str(schedule.inputs["groupName"]),
            Name=schedule.outputs["name"],
            ScheduleExpression=schedule.inputs["scheduleExpression"],
            ScheduleExpressionTimezone=schedule.inputs.get("scheduleExpressionTimezone") or "UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": seeded.substitute(str(target["arn"])),
                "RoleArn": seeded.substitute(str(target["roleArn"])),
                "Input": target.get("input", "{}"),
            },
            State=schedule.inputs.get("state") or "ENABLED",
        )


def _load_balancer(seeded: SeededStack) -> None:
    balancers = seeded.recording.of_type("aws:lb/loadBalancer:LoadBalancer")
    if not balancers:
        return
    elbv2 = seeded.client("elbv2")
    vpc = seeded.replacements["vpc-0123456789abcdef0"]
    for balancer in balancers:
        created = elbv2.create_load_balancer(Name=balancer.outputs["name"], Subnets=seeded.subnets, Type="application")
        seeded.replacements[balancer.outputs["arn"]] = created["LoadBalancers"][0]["LoadBalancerArn"]
    for group in seeded.recording.of_type("aws:lb/targetGroup:TargetGroup"):
        if group.inputs.get("targetType") == "lambda":
            created = elbv2.create_target_group(Name=group.outputs["name"], TargetType="lambda")
        else:
            created = elbv2.create_target_group(
                Name=group.outputs["name"], Protocol="HTTP", Port=int(group.inputs["port"]), VpcId=vpc, TargetType="ip"
            )
        seeded.replacements[group.outputs["arn"]] = created["TargetGroups"][0]["TargetGroupArn"]
    for listener in seeded.recording.of_type("aws:lb/listener:Listener"):
        if listener.inputs.get("protocol") != "HTTPS":
            continue  # the HTTP listener only redirects
        # The stand-in serves plain HTTP (it has no certificate to terminate TLS); the actions are the program's.
        created = elbv2.create_listener(
            LoadBalancerArn=seeded.substitute(listener.inputs["loadBalancerArn"]),
            Protocol="HTTP",
            Port=443,
            DefaultActions=[_action(seeded, a) for a in plain(listener.inputs["defaultActions"])],
        )
        seeded.replacements[listener.outputs["arn"]] = created["Listeners"][0]["ListenerArn"]
    for rule in seeded.recording.of_type("aws:lb/listenerRule:ListenerRule"):
        created = elbv2.create_rule(
            ListenerArn=seeded.substitute(rule.inputs["listenerArn"]),
            Priority=int(rule.inputs["priority"]),
            Conditions=[_condition(c) for c in plain(rule.inputs["conditions"])],
            Actions=[_action(seeded, a) for a in plain(rule.inputs["actions"])],
        )
        seeded.replacements[rule.outputs["arn"]] = created["Rules"][0]["RuleArn"]


def _condition(condition: dict[str, Any]) -> dict[str, Any]:
    if "pathPattern" in condition:
        return {"Field": "path-pattern", "PathPatternConfig": {"Values": condition["pathPattern"]["values"]}}
    raise ValueError(f"the stand-in does not seed listener rule condition {condition}")


def _action(seeded: SeededStack, action: dict[str, Any]) -> dict[str, Any]:
    """A Pulumi listener action as the ELB API takes it."""
    result: dict[str, Any] = {"Type": action["type"], "Order": int(action.get("order") or 1)}
    if action.get("targetGroupArn"):
        result["TargetGroupArn"] = seeded.substitute(action["targetGroupArn"])
    if action.get("authenticateOidc"):
        oidc = action["authenticateOidc"]
        result["AuthenticateOidcConfig"] = {
            "Issuer": oidc["issuer"],
            "AuthorizationEndpoint": oidc["authorizationEndpoint"],
            "TokenEndpoint": oidc["tokenEndpoint"],
            "UserInfoEndpoint": oidc["userInfoEndpoint"],
            "ClientId": oidc["clientId"],
            "ClientSecret": oidc["clientSecret"],
            "Scope": oidc.get("scope", "openid"),
            "OnUnauthenticatedRequest": oidc.get("onUnauthenticatedRequest", "authenticate"),
        }
    if action.get("redirect"):
        redirect = action["redirect"]
        result["RedirectConfig"] = {
            "Protocol": redirect["protocol"],
            "Port": redirect["port"],
            "StatusCode": redirect["statusCode"],
        }
    return result


def _identity(seeded: SeededStack) -> None:
    iam = seeded.client("iam")
    recording = seeded.recording
    for role in recording.of_type("aws:iam/role:Role"):
        iam.create_role(
            RoleName=role.outputs["name"],
            Path=role.inputs.get("path") or "/",
            AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"],
        )
    for policy in recording.of_type("aws:iam/rolePolicy:RolePolicy"):
        iam.put_role_policy(
            RoleName=_role_of_policy(recording, policy),
            PolicyName=policy.name,
            PolicyDocument=seeded.substitute(str(plain(policy.inputs["policy"]))),
        )
    for managed in recording.of_type("aws:iam/policy:Policy"):
        created = iam.create_policy(
            PolicyName=managed.outputs["name"],
            Path=managed.inputs.get("path") or "/",
            PolicyDocument=seeded.substitute(str(plain(managed.inputs["policy"]))),
        )
        seeded.replacements[managed.outputs["arn"]] = created["Policy"]["Arn"]
    for attachment in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        arn = seeded.substitute(str(attachment.inputs["policyArn"]))
        # A policy of the account's own (e.g. workerPolicyArns) is not in the stand-in: it grants nothing here.
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            iam.attach_role_policy(RoleName=str(attachment.inputs["role"]), PolicyArn=arn)


def _ecs(seeded: SeededStack) -> None:
    ecs = seeded.client("ecs")
    recording = seeded.recording
    for cluster in recording.of_type("aws:ecs/cluster:Cluster"):
        ecs.create_cluster(clusterName=cluster.outputs["name"])
    for definition in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        containers = seeded.substituted(json.loads(definition.inputs["containerDefinitions"]))
        for declared in containers:
            # moto's RunTask adds up container memory (Fargate uses the task's): moto's accounting only.
            declared.setdefault("memory", int(definition.inputs["memory"]) // len(containers))
        registered = ecs.register_task_definition(
            family=definition.inputs["family"],
            taskRoleArn=definition.inputs["taskRoleArn"],
            executionRoleArn=definition.inputs["executionRoleArn"],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu=str(definition.inputs["cpu"]),
            memory=str(definition.inputs["memory"]),
            containerDefinitions=containers,
            runtimePlatform=definition.inputs["runtimePlatform"],
        )
        seeded.replacements[definition.outputs["arn"]] = registered["taskDefinition"]["taskDefinitionArn"]
    cluster_name = recording.one("aws:ecs/cluster:Cluster").outputs["name"]
    for capacity in recording.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"):
        ecs.put_cluster_capacity_providers(
            cluster=cluster_name,
            capacityProviders=capacity.inputs["capacityProviders"],
            defaultCapacityProviderStrategy=[],
        )
    for service in recording.of_type("aws:ecs/service:Service"):
        strategy = [  # the recording holds Pulumi's numbers (floats); ECS takes integers
            {k: int(v) if isinstance(v, float) else v for k, v in item.items()}
            for item in service.inputs.get("capacityProviderStrategies") or []
        ]
        ecs.create_service(
            cluster=cluster_name,
            serviceName=service.outputs["name"],
            taskDefinition=seeded.substitute(service.inputs["taskDefinition"]),
            desiredCount=0,
            **({"capacityProviderStrategy": strategy} if strategy else {"launchType": service.inputs["launchType"]}),
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": seeded.subnets, "securityGroups": [seeded.security_group]}
            },
        )


def _database(seeded: SeededStack) -> None:
    rds = seeded.client("rds")
    for instance in seeded.recording.of_type("aws:rds/instance:Instance"):
        rds.create_db_instance(
            DBInstanceIdentifier=instance.inputs["identifier"],
            Engine="postgres",
            DBInstanceClass=instance.inputs["instanceClass"],
            MasterUsername="airflow",
            MasterUserPassword=generated_secret()[:30],
            AllocatedStorage=int(instance.inputs.get("allocatedStorage") or 20),
        )


def _functions(seeded: SeededStack) -> None:
    functions = seeded.client("lambda")
    for function in seeded.recording.of_type("aws:lambda/function:Function"):
        package = str(function.inputs["handler"]).split(".", 1)[0]
        functions.create_function(
            FunctionName=function.outputs["name"],
            Runtime=function.inputs["runtime"],
            Role=function.inputs["role"],
            Handler=function.inputs["handler"],
            Code={"ZipFile": archive_bytes(package)},
            Timeout=int(function.inputs.get("timeout") or 60),
            MemorySize=int(function.inputs.get("memorySize") or 128),
            Environment={"Variables": seeded.function_environment(function.name)},
            Architectures=list(function.inputs["architectures"]),
            LoggingConfig={
                "LogFormat": function.inputs["loggingConfig"]["logFormat"],
                "LogGroup": function.inputs["loggingConfig"]["logGroup"],
            },
        )
