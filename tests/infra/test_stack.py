"""The real program under Pulumi's mocks, for every committed stack file and the main variants."""

from __future__ import annotations

import ipaddress
import json
import re

from pulumi.runtime.rpc import is_rpc_secret

from infra import iam_policies
from infra.airflow_env import SECRET_ENVIRONMENT
from offline.recording import Recording
from tests.infra.conftest import PROD_SECRET, SNAPSHOT, policy_documents, walk_strings

SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
RDS = "aws:rds/instance:Instance"


def containers(recording: Recording) -> list[dict]:
    return [c for td in recording.of_type(TASK_DEFINITION) for c in json.loads(td.inputs["containerDefinitions"])]


def test_region_and_partition(recording: Recording):
    provider = recording.one("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-gov-east-1"
    assert recording.exports["region"] == "us-gov-east-1"
    arns = [s for r in recording.resources for s in walk_strings(r.inputs) if s.startswith("arn:")]
    assert arns, "the program should reference resources by ARN"
    assert all(s.startswith("arn:aws-us-gov:") for s in arns), [s for s in arns if "aws-us-gov" not in s]


def test_no_literal_commercial_partition_anywhere(recording: Recording):
    offenders = [(r.type, r.name, s) for r in recording.resources for s in walk_strings(r.inputs) if "arn:aws:" in s]
    assert offenders == []


def test_every_service_starts_at_zero_and_ignores_desired_count(recording: Recording):
    services = recording.of_type(SERVICE)
    assert {s.inputs["name"] for s in services} >= {"api-server", "scheduler", "dag-processor", "worker"}
    for service in services:
        assert service.inputs["desiredCount"] == 0, service.name
        assert "desiredCount" in service.ignore_changes, service.name


def test_triggerer_can_be_disabled(recordings):
    assert "triggerer" in {s.inputs["name"] for s in recordings["dev"].of_type(SERVICE)}
    assert "triggerer" not in {s.inputs["name"] for s in recordings["existing-vpc-oidc"].of_type(SERVICE)}


def test_database_is_private_encrypted_and_tls_only(recording: Recording):
    instance = recording.one(RDS)
    assert instance.inputs["publiclyAccessible"] is False
    assert instance.inputs["storageEncrypted"] is True
    assert instance.inputs["storageType"] == "gp3"
    parameters = recording.one("aws:rds/parameterGroup:ParameterGroup").inputs["parameters"]
    assert {"name": "rds.force_ssl", "value": "1"}.items() <= next(
        p for p in parameters if p["name"] == "rds.force_ssl"
    ).items()
    # The database's subnets are the isolated ones (new VPC) or the named database subnets.
    subnet_ids = recording.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]
    task_subnets = recording.one(SERVICE, "airflow-scheduler-service").inputs["networkConfiguration"]["subnets"]
    assert not set(subnet_ids) & set(task_subnets)


def test_database_protection_differs_between_dev_and_prod(recordings):
    prod = recordings["prod"].one(RDS)
    assert prod.inputs["deletionProtection"] is True
    assert prod.inputs.get("skipFinalSnapshot") is False
    # Regression: a fixed "airflow-prod-final" made a second destroy or a replacement fail (the snapshot
    # exists). Each incarnation of the instance (its identifier and snapshot) gets its own suffix.
    suffix = recordings["prod"].one("random:index/randomId:RandomId", "database-final-snapshot")
    assert prod.inputs["finalSnapshotIdentifier"] == f"airflow-prod-final-{suffix.outputs['hex']}"
    assert suffix.inputs["keepers"] == {"identifier": "airflow-prod", "restoreFrom": ""}
    assert prod.inputs["allowMajorVersionUpgrade"] is True, "a change of engineVersion is a major upgrade"
    assert prod.inputs["backupRetentionPeriod"] >= 7
    assert prod.protect
    dev = recordings["dev"].one(RDS)
    assert dev.inputs.get("deletionProtection") is False
    assert dev.inputs["skipFinalSnapshot"] is True
    assert not dev.protect


def test_restore_from_snapshot_uses_the_snapshot_and_a_copy_of_prods_fernet_key(recordings):
    restored = recordings["restore"]
    instance = restored.one(RDS)
    assert instance.inputs["snapshotIdentifier"] == SNAPSHOT
    assert "dbName" not in instance.inputs  # the snapshot brings its database
    # The Fernet key is copied from prod's secret into the stack's own: the tasks reference only their own.
    (secret,) = restored.of_type("aws:secretsmanager/secret:Secret")
    fernet = [s for c in containers(restored) for s in c["secrets"] if s["name"] == "AIRFLOW__CORE__FERNET_KEY"]
    assert fernet and all(s["valueFrom"] == f"{secret.outputs['arn']}:fernet_key::" for s in fernet)
    (version,) = restored.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    document = json.loads(version.inputs["secretString"]["value"])
    assert document["fernet_key"] == "source-fernet-key-" + "x" * 26  # what the offline mock's prod secret holds
    assert document["conn"] != "postgresql+psycopg2://source"  # nothing else of prod's is copied
    assert not [r for r in restored.of_type("random:index/randomBytes:RandomBytes")], "no new Fernet key"
    assert PROD_SECRET not in json.dumps(
        [r.inputs for r in restored.resources], default=str
    )  # no role, no task names it
    assert "snapshotIdentifier" not in recordings["dev"].one(RDS).inputs


def _sources(recording: Recording, group_name: str) -> list[str]:
    group_id = f"{group_name}-id"
    return [
        str(r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId"))
        for r in recording.of_type(INGRESS)
        if r.inputs["securityGroupId"] == group_id
    ]


def test_nothing_is_open_to_the_internet_but_the_load_balancer(recording: Recording):
    for rule in recording.of_type(INGRESS):
        cidr = rule.inputs.get("cidrIpv4")
        if cidr is None:
            continue
        network = ipaddress.ip_network(cidr)
        if rule.inputs["securityGroupId"] == "network-load-balancer-id":
            assert rule.inputs["fromPort"] in (80, 443)
            continue
        # Task ports and the database admit only private ranges (the VPC, a VPN), never the internet.
        assert network.is_private, (rule.name, cidr)
        assert cidr != "0.0.0.0/0"
    assert _sources(recording, "network-database") == ["network-tasks-id"]


def test_load_balancer_is_the_only_way_in_when_present(recordings):
    public = recordings["existing-vpc-oidc"]
    assert sorted(_sources(public, "network-api-server")) == ["network-load-balancer-id", "network-tasks-id"]
    assert set(_sources(public, "network-load-balancer")) == {"198.51.100.0/24"}
    listener = public.one("aws:lb/listener:Listener", "ui-https")
    assert listener.inputs["sslPolicy"].startswith("ELBSecurityPolicy-") and "FIPS" in listener.inputs["sslPolicy"]
    assert listener.inputs["certificateArn"].startswith("arn:aws-us-gov:acm:")
    redirect = public.one("aws:lb/listener:Listener", "ui-http").inputs["defaultActions"][0]
    assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
    # OIDC authentication first, then forward; the client secret stays a Pulumi secret.
    actions = listener.inputs["defaultActions"]
    assert is_rpc_secret(actions)
    assert [a["type"] for a in actions["value"]] == ["authenticate-oidc", "forward"]
    assert public.exports["uiUrl"] == "https://airflow.example.gov"


def test_without_load_balancer_the_ui_is_reachable_only_inside_the_vpc(recordings):
    dev = recordings["dev"]
    assert not dev.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert sorted(_sources(dev, "network-api-server")) == ["10.40.0.0/16", "network-tasks-id"]


def test_no_secret_value_in_task_definitions_functions_or_outputs(recording: Recording):
    secret_values = set()
    for resource in recording.resources:
        if resource.type.startswith("random:"):
            secret_values |= {resource.outputs["result"]} if "result" in resource.outputs else set()
            secret_values |= {resource.outputs["base64"]} if "base64" in resource.outputs else set()
    secret_values.add("oidc-client-secret-value-for-tests")
    assert secret_values
    exposed = [TASK_DEFINITION, "aws:lambda/function:Function", "aws:lambda/invocation:Invocation"]
    for resource in recording.resources:
        if resource.type in exposed:
            text = json.dumps(resource.inputs, default=str)
            assert not any(value in text for value in secret_values), resource.name
    assert not any(value in json.dumps(recording.exports, default=str) for value in secret_values)
    # Secret values are stored as Pulumi secrets (encrypted in state).
    for version in recording.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert is_rpc_secret(version.inputs["secretString"]), version.name


def test_secrets_reach_containers_by_arn_only(recording: Recording):
    for container in containers(recording):
        names = {e["name"] for e in container["environment"]}
        assert not names & set(SECRET_ENVIRONMENT), container["name"]
        for secret in container["secrets"]:
            assert re.fullmatch(
                r"arn:aws-us-gov:secretsmanager:us-gov-east-1:\d{12}:secret:[\w/+=.@-]+"
                r":[a-z_]+::",
                secret["valueFrom"],
            ), secret


def test_one_secret_per_stack_and_every_reference_names_a_key_it_holds(recording: Recording):
    """ECS reads one key of a JSON secret with `ARN:json-key:version-stage:version-id`; a key the document
    lacks fails the task's start (ResourceInitializationError). Source:
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html"""
    (secret,) = recording.of_type("aws:secretsmanager/secret:Secret")
    (version,) = recording.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    document = json.loads(version.inputs["secretString"]["value"])
    references = [s["valueFrom"] for c in containers(recording) for s in c["secrets"]]
    assert len(references) > 10
    for reference in references:
        arn, key, stage, version_id = reference.rsplit(":", 3)
        assert (stage, version_id) == ("", "")  # the current version
        assert arn == secret.outputs["arn"]
        assert key in document, reference
    assert {"conn", "conn_async", "jwt_secret", "api_secret_key", "admin_password"} <= set(document)


def test_jwt_secret_only_where_tokens_are_signed_or_checked(recording: Recording):
    holders = {
        c["name"]
        for c in containers(recording)
        if any(s["name"] == "AIRFLOW__API_AUTH__JWT_SECRET" for s in c["secrets"])
    }
    assert holders == {"api-server", "scheduler"}


def test_components_wait_for_migrations_and_migration_gates_the_services(recording: Recording):
    for td in recording.of_type(TASK_DEFINITION):
        defs = {c["name"]: c for c in json.loads(td.inputs["containerDefinitions"])}
        if "migrate" in defs:
            assert defs["migrate"]["command"][:2] == ["bash", "-c"]
            assert "airflow db migrate" in defs["migrate"]["command"][2]
            continue
        main = next(c for c in defs.values() if c["essential"])
        if main["name"] == "worker":
            # The worker uses no metadata database (its tasks go through the Execution API): nothing to wait for.
            assert "wait-for-migrations" not in defs and "dependsOn" not in main
            continue
        assert defs["wait-for-migrations"]["command"][:2] == ["db", "check-migrations"]
        assert main["dependsOn"] == [{"containerName": "wait-for-migrations", "condition": "SUCCESS"}]
    invocation = recording.one("aws:lambda/invocation:Invocation")
    assert json.loads(invocation.inputs["input"])["taskDefinitionArn"].endswith("-migrate:1")


def test_every_log_group_has_a_retention(recording: Recording):
    groups = recording.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) >= 7
    for group in groups:
        assert group.inputs.get("retentionInDays", 0) > 0, group.name
    for container in containers(recording):
        options = container["logConfiguration"]["options"]
        assert options["awslogs-group"] in {g.inputs["name"] for g in groups}


def test_iam_policies_are_scoped_to_the_stacks_resources(recording: Recording):
    known_arns = {r.outputs["arn"] for r in recording.resources if "arn" in r.outputs}
    stack_name = f"airflow-{recording.stack}"
    documents = policy_documents(recording)
    assert len(documents) >= 10
    for role_policy, document in documents:
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for resource in statement["Resource"]:
                if resource == "*":
                    assert set(actions) <= iam_policies.UNSCOPABLE_ACTIONS, (role_policy.name, actions)
                    continue
                assert resource.startswith("arn:aws-us-gov:"), resource
                assert any(resource.startswith(arn) for arn in known_arns) or stack_name in resource, (
                    role_policy.name,
                    resource,
                )


def test_roles_trust_only_their_service_in_this_account(recording: Recording):
    for role in recording.of_type("aws:iam/role:Role"):
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        assert trust["Principal"]["Service"] in {
            "ecs-tasks.amazonaws.com",
            "lambda.amazonaws.com",
            "scheduler.amazonaws.com",
        }
        assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_worker_may_consume_the_broker_and_the_scheduler_only_send(recordings):
    dev = recordings["dev"]
    by_role = {r.name: json.loads(r.inputs["policy"]) for r in dev.of_type("aws:iam/rolePolicy:RolePolicy")}

    def sqs_actions(role: str) -> set[str]:
        return {a for s in by_role[role]["Statement"] for a in s["Action"] if a.startswith("sqs:")}

    assert "sqs:ReceiveMessage" in sqs_actions("airflow-worker-task")
    assert "sqs:SendMessage" in sqs_actions("airflow-scheduler-task")
    assert "sqs:ReceiveMessage" not in sqs_actions("airflow-scheduler-task")
    assert sqs_actions("airflow-api-server-task") == set()


def test_storage_and_broker_are_encrypted_and_tls_only(recording: Recording):
    assert (
        recording.one("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"]
        == "Enabled"
    )
    block = recording.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    for policy_type in ("aws:s3/bucketPolicy:BucketPolicy", "aws:sqs/queuePolicy:QueuePolicy"):
        statement = json.loads(recording.one(policy_type).inputs["policy"])["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    queues = {q.name: q.inputs for q in recording.of_type("aws:sqs/queue:Queue")}
    assert all(q["sqsManagedSseEnabled"] for q in queues.values())
    assert "deadLetterTargetArn" in json.loads(queues["broker-queue"]["redrivePolicy"])


def test_image_is_built_for_the_stacks_architecture(recordings):
    dev_image = recordings["dev"].one("awsx:ecr:Image")
    assert dev_image.inputs["platform"] == "linux/amd64"
    for td in recordings["dev"].of_type(TASK_DEFINITION):
        assert td.inputs["runtimePlatform"]["cpuArchitecture"] == "X86_64"
    opted = recordings["existing-vpc-oidc"]  # ARM64 opted into: image, tasks and functions follow
    assert opted.one("awsx:ecr:Image").inputs["platform"] == "linux/arm64"
    for td in opted.of_type(TASK_DEFINITION):
        assert td.inputs["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    assert {tuple(f.inputs["architectures"]) for f in opted.of_type("aws:lambda/function:Function")} == {("arm64",)}
    assert {tuple(f.inputs["architectures"]) for f in recordings["dev"].of_type("aws:lambda/function:Function")} == {
        ("x86_64",)
    }


def test_spot_workers_keep_one_task_on_fargate_and_only_then_is_spot_associated(recordings):
    """ECS does not fall back from a capacity provider that cannot place a task
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html); Spot is not
    documented for GovCloud, so a stack with Spot workers keeps its first worker on FARGATE."""
    dev, opted = recordings["dev"], recordings["existing-vpc-oidc"]
    assert dev.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders").inputs["capacityProviders"] == [
        "FARGATE"
    ]
    assert dev.one("aws:ecs/service:Service", "airflow-worker-service").inputs["launchType"] == "FARGATE"
    worker = opted.one("aws:ecs/service:Service", "airflow-worker-service").inputs
    assert "launchType" not in worker
    assert [(s["capacityProvider"], s.get("base", 0), s["weight"]) for s in worker["capacityProviderStrategies"]] == [
        ("FARGATE", 1, 0),
        ("FARGATE_SPOT", 0, 1),
    ]


def test_existing_vpc_is_used_as_given(recordings):
    recording = recordings["existing-vpc-oidc"]
    assert not recording.of_type("awsx:ec2:Vpc")
    assert recording.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"] == [
        "subnet-0bbbbbbbbbbbbbbb1",
        "subnet-0bbbbbbbbbbbbbbb2",
    ]
    network = recording.one(SERVICE, "airflow-worker-service").inputs["networkConfiguration"]
    assert network["subnets"] == ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
    assert network["assignPublicIp"] is False
    assert recording.one("aws:lb/loadBalancer:LoadBalancer").inputs["subnets"] == [
        "subnet-0ccccccccccccccc1",
        "subnet-0ccccccccccccccc2",
    ]


def test_outputs_an_operator_needs(recording: Recording):
    exports = recording.exports
    for key in (
        "clusterName",
        "serviceNames",
        "uiUrl",
        "dagBucket",
        "brokerQueueUrl",
        "databaseEndpoint",
        "databaseIdentifier",
        "imageUri",
    ):
        assert exports.get(key), key
    assert exports["clusterName"] == f"airflow-{recording.stack}"
    assert set(exports["serviceNames"]) == {s.inputs["name"] for s in recording.of_type(SERVICE)}
