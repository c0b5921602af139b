"""The migration runner: its pure decisions, and its handler against moto in us-gov-east-1."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws
from moto.ecs.models import EC2ContainerServiceBackend

from lambdas.migrator import handler as migrator
from lambdas.migrator.policy import database_action, judge_task

REGION = "us-gov-east-1"
ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("available", "proceed"),
        ("stopped", "start"),
        ("starting", "wait"),
        ("backing-up", "wait"),
        ("stopping", "wait"),
        ("failed", "fail"),
        ("incompatible-parameters", "fail"),
        ("deleting", "fail"),
    ],
)
def test_database_action(status, action):
    assert database_action(status) == action


def test_judge_task():
    running = {"lastStatus": "RUNNING", "containers": [{"name": "migrate"}]}
    assert not judge_task(running).finished
    ok = {"lastStatus": "STOPPED", "containers": [{"name": "migrate", "exitCode": 0}]}
    assert judge_task(ok).succeeded
    failed = {"lastStatus": "STOPPED", "taskArn": "t1", "containers": [{"name": "migrate", "exitCode": 1}]}
    outcome = judge_task(failed)
    assert outcome.finished and not outcome.succeeded and "exit code 1" in outcome.reason
    never_ran = {
        "lastStatus": "STOPPED",
        "stoppedReason": "CannotPullContainerError: no such image",
        "containers": [{"name": "migrate"}],
    }
    assert "CannotPullContainerError" in judge_task(never_ran).reason


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the stack's VPC
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.0.0/22")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
        ecs = boto3.client("ecs", region_name=REGION)
        ecs.create_cluster(clusterName="airflow-dev")
        task_definition = ecs.register_task_definition(
            family="airflow-dev-migrate",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="2048",
            containerDefinitions=[
                {"name": "migrate", "image": "airflow", "memory": 2048, "command": ["bash", "-c", "true"]}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        rds = boto3.client("rds", region_name=REGION)
        rds.create_db_instance(
            DBInstanceIdentifier="airflow-dev",
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            MasterUsername="airflow",
            MasterUserPassword="password-1234",
            AllocatedStorage=20,
        )
        config = migrator.RunnerConfig.from_environment(
            {
                "CLUSTER": "airflow-dev",
                "SUBNETS": subnet,
                "SECURITY_GROUPS": group,
                "ASSIGN_PUBLIC_IP": "true",
                "DB_INSTANCE_ID": "airflow-dev",
            }
        )
        yield SimpleNamespace(ecs=ecs, rds=rds, config=config, task_definition=task_definition)


class RecordedInvokes:
    """A Lambda client that records the invocations the runner sends to the waker."""

    class exceptions:
        ResourceNotFoundException = KeyError

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def invoke(self, **kwargs):
        self.calls.append(kwargs)


def run_migration(aws, event, seconds=900.0):
    sleeps: list[float] = []
    result = migrator.migrate(
        event,
        config=aws.config,
        ecs=aws.ecs,
        rds=aws.rds,
        seconds_left=lambda: seconds - sum(sleeps),
        sleep=sleeps.append,
    )
    return result, sleeps


def test_runs_the_migration_task_and_waits_for_it(aws, caplog):
    caplog.set_level("INFO")
    result, _ = run_migration(aws, {"taskDefinitionArn": aws.task_definition})
    assert result["status"] == "migrated"
    assert result["taskArn"].startswith(f"arn:aws-us-gov:ecs:{REGION}:{ACCOUNT}:task/")
    task = aws.ecs.describe_tasks(cluster="airflow-dev", tasks=[result["taskArn"]])["tasks"][0]
    assert task["taskDefinitionArn"] == aws.task_definition
    assert task["startedBy"] == "airflow-migrate"
    events = [json.loads(r.getMessage())["event"] for r in caplog.records if r.getMessage().startswith("{")]
    assert events == ["database", "migration-started", "migration-finished"]


def test_a_stopped_database_is_started_first(aws):
    aws.rds.stop_db_instance(DBInstanceIdentifier="airflow-dev")
    result, _ = run_migration(aws, {"taskDefinitionArn": aws.task_definition})
    assert result["status"] == "migrated"
    status = aws.rds.describe_db_instances(DBInstanceIdentifier="airflow-dev")["DBInstances"][0]
    assert status["DBInstanceStatus"] == "available"


def test_the_outcome_is_recorded_for_operators(aws, monkeypatch):
    ssm = boto3.client("ssm", region_name=REGION)
    config = migrator.RunnerConfig(**{**aws.config.__dict__, "status_parameter": "/airflow-dev/migration/status"})
    sleeps: list[float] = []
    result = migrator.migrate(
        {"taskDefinitionArn": aws.task_definition},
        config=config,
        ecs=aws.ecs,
        rds=aws.rds,
        ssm=ssm,
        seconds_left=lambda: 900 - sum(sleeps),
        sleep=sleeps.append,
    )
    recorded = json.loads(ssm.get_parameter(Name="/airflow-dev/migration/status")["Parameter"]["Value"])
    assert recorded["status"] == "migrated" and recorded["taskArn"] == result["taskArn"]

    aws.rds.stop_db_instance(DBInstanceIdentifier="airflow-dev")
    with pytest.raises(migrator.MigrationFailed):
        migrator.migrate(
            {"taskDefinitionArn": aws.task_definition},
            config=config,
            ecs=aws.ecs,
            rds=aws.rds,
            ssm=ssm,
            seconds_left=lambda: 10,
            sleep=lambda _: None,
        )
    recorded = json.loads(ssm.get_parameter(Name="/airflow-dev/migration/status")["Parameter"]["Value"])
    assert recorded["status"] == "failed" and "still" in recorded["reason"]


def test_a_failed_migration_fails_the_invocation(aws, monkeypatch):
    original = EC2ContainerServiceBackend.run_task

    def run_task_that_fails(self, *args, **kwargs):
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            # as `airflow db migrate` exiting 3 would leave it
            task.containers[0].exitCode = 3  # pyright: ignore[reportAttributeAccessIssue]
        return tasks

    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", run_task_that_fails)
    with pytest.raises(migrator.MigrationFailed, match="exit code 3"):
        run_migration(aws, {"taskDefinitionArn": aws.task_definition})


def test_a_migration_still_running_at_the_deadline_fails_with_advice(aws):
    with pytest.raises(migrator.MigrationFailed, match="still running"):
        run_migration(aws, {"taskDefinitionArn": aws.task_definition}, seconds=30)


@pytest.mark.parametrize("event", [{}, {"taskDefinitionArn": "airflow"}, "migrate", None])
def test_a_malformed_event_is_rejected_before_anything_runs(aws, event):
    with pytest.raises(migrator.MigrationFailed, match="taskDefinitionArn"):
        run_migration(aws, event)
    assert aws.ecs.list_tasks(cluster="airflow-dev")["taskArns"] == []


def test_missing_configuration_is_named():
    with pytest.raises(migrator.MigrationFailed, match="CLUSTER, SUBNETS"):
        migrator.RunnerConfig.from_environment({"SECURITY_GROUPS": "sg-1", "DB_INSTANCE_ID": "db"})


def test_a_restored_database_is_guarded_by_its_identity_and_the_waker_told(aws):
    """The database's identity (RDS's resource id) reaches the guard, so a replacement restored from the same
    snapshot is guarded again; once it has been, the waker's maintenance hold ends."""
    waker = RecordedInvokes()
    calls = waker.calls
    config = migrator.RunnerConfig(
        **{**aws.config.__dict__, "restored": True, "waker_function": "airflow-staging-waker"}
    )
    result = migrator.migrate(
        {"taskDefinitionArn": aws.task_definition, "databaseId": "db-ABCDEFGHIJ"},
        config=config,
        ecs=aws.ecs,
        rds=aws.rds,
        seconds_left=lambda: 900,
        sleep=lambda _: None,
        lambda_client=waker,
    )
    task = aws.ecs.describe_tasks(cluster="airflow-dev", tasks=[result["taskArn"]])["tasks"][0]
    overrides = task["overrides"]["containerOverrides"][0]
    assert overrides["environment"] == [{"name": "AIRFLOW_RESTORED_DATABASE", "value": "db-ABCDEFGHIJ"}]
    assert len(calls) == 2 and {c["FunctionName"] for c in calls} == {"airflow-staging-waker"}
    assert json.loads(calls[0]["Payload"])["action"] == "deploy"  # the database held first (see below)
    assert json.loads(calls[1]["Payload"]) == {
        "action": "maintenance",
        "on": False,
        "reason": "restore guard ran on db-ABCDEFGHIJ",
    }


def test_the_database_is_held_for_the_migration_even_without_predeploy(aws):
    """Regression: the runner started a stopped database but did not hold it, so a `pulumi up` without
    `predeploy` could have the waker stop it mid-migration. It now asks the waker for a deploy hold, first, for
    at least the runner's own time; the waker's own parser reads the request."""
    from contracts.waker import Deploy, parse_event

    waker = RecordedInvokes()
    calls = waker.calls
    config = migrator.RunnerConfig(**{**aws.config.__dict__, "waker_function": "airflow-dev-waker"})
    migrator.migrate(
        {"taskDefinitionArn": aws.task_definition, "databaseId": "db-1"},
        config=config,
        ecs=aws.ecs,
        rds=aws.rds,
        seconds_left=lambda: 900,
        sleep=lambda _: None,
        lambda_client=waker,
    )
    (call,) = calls
    assert call["FunctionName"] == "airflow-dev-waker" and call["InvocationType"] == "Event"
    request = parse_event(json.loads(call["Payload"]), default_hold_minutes=60)
    assert isinstance(request, Deploy) and request.hold_minutes >= 900 // 60
