"""The migration runner: its pure decisions, and its handler against moto in us-gov-east-1."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta
from types import SimpleNamespace

import boto3
import pytest
from moto.ecs.models import EC2ContainerServiceBackend

from lambdas.migrator import handler as migrator
from lambdas.migrator.policy import database_action, judge_task
from standin.waker_world import START, moto_world

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
def aws():
    """The stack's account under moto: its cluster with every service at zero, its database, its waker (the real
    handler, reached through `WakerLambda`) and the migration task definition."""
    with moto_world(database=True, stop_database=True) as world:
        ec2 = boto3.client("ec2", region_name=REGION)
        ec2.modify_vpc_attribute(VpcId=ec2.describe_vpcs()["Vpcs"][-1]["VpcId"], EnableDnsHostnames={"Value": True})
        subnet = ec2.describe_subnets()["Subnets"][-1]["SubnetId"]
        group = ec2.describe_security_groups(GroupNames=["tasks"])["SecurityGroups"][0]["GroupId"]
        ecs = boto3.client("ecs", region_name=REGION)
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
        config = migrator.RunnerConfig.from_environment(
            {
                "CLUSTER": "airflow-dev",
                "SUBNETS": subnet,
                "SECURITY_GROUPS": group,
                "ASSIGN_PUBLIC_IP": "true",
                "DB_INSTANCE_ID": "airflow-dev",
            }
        )
        rds = boto3.client("rds", region_name=REGION)
        yield SimpleNamespace(ecs=ecs, rds=rds, config=config, task_definition=task_definition, world=world)


class WakerLambda:
    """A Lambda client whose invocations of the waker run its real handler on the world's account, at the clock's
    time (synchronously for an Event invoke too); `missing` answers as Lambda does for a function not created."""

    class exceptions:
        ResourceNotFoundException = LookupError

    def __init__(self, world, clock, *, missing: bool = False) -> None:
        self.world, self.clock, self.missing = world, clock, missing
        self.calls: list[dict] = []
        self.answers: list[dict] = []

    def invoke(self, **kwargs):
        if self.missing:
            raise LookupError(kwargs["FunctionName"])
        self.calls.append(kwargs)
        answer = self.world.invoke(json.loads(kwargs["Payload"]), self.clock())
        self.answers.append(answer)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer, default=str).encode())}

    def actions(self) -> list[str]:
        return [json.loads(c["Payload"])["action"] for c in self.calls]


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


@pytest.fixture
def migration_exits_3(monkeypatch):
    """ECS's migration task stops as `airflow db migrate` exiting 3 would leave it."""
    original = EC2ContainerServiceBackend.run_task

    def run_task_that_fails(self, *args, **kwargs):
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            task.containers[0].exitCode = 3  # pyright: ignore[reportAttributeAccessIssue]
        return tasks

    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", run_task_that_fails)


def test_a_failed_migration_fails_the_invocation(aws, migration_exits_3):
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
    world = aws.world
    world.invoke({"action": "maintenance", "on": True, "reason": "re-staging from prod"}, START)
    waker = WakerLambda(world, lambda: START + timedelta(minutes=1))
    config = migrator.RunnerConfig(**{**aws.config.__dict__, "restored": True, "waker_function": "airflow-dev-waker"})
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
    assert waker.actions() == ["migration", "migration", "maintenance"]
    assert json.loads(waker.calls[-1]["Payload"]) == {
        "action": "maintenance",
        "on": False,
        "reason": "restore guard ran on db-ABCDEFGHIJ",
    }
    status = world.invoke({"action": "status"}, START + timedelta(minutes=2))
    assert status["maintenance"] is None and result["oldVersion"] == "asleep"


class SlowToStop:
    """ECS as it is: a service scaled to zero still runs its tasks for a while (SIGTERM, then the stop timeout).
    The waker's ECS client reports the running count it had for the next `describes` DescribeServices calls
    after a scale-down, then ECS's own."""

    def __init__(self, ecs, describes: int) -> None:
        self._ecs, self.describes = ecs, describes
        self._last: dict[str, int] = {}
        self._stopping = 0

    def __getattr__(self, name):
        return getattr(self._ecs, name)

    def update_service(self, **kwargs):
        if kwargs.get("desiredCount") == 0:
            self._stopping = self.describes
        return self._ecs.update_service(**kwargs)

    def describe_services(self, **kwargs):
        answer = self._ecs.describe_services(**kwargs)
        for service in answer["services"]:
            if self._stopping:
                service["runningCount"] = self._last.get(service["serviceName"], service["runningCount"])
            else:
                self._last[service["serviceName"]] = service["runningCount"]
        if self._stopping:
            self._stopping -= 1
        return answer


def awake_world(aws, minutes: int = 120):
    world = aws.world
    world.report(START, next_due_in=None)
    answer = world.invoke({"action": "wake", "holdMinutes": minutes, "reason": "backfill"}, START)
    assert answer["state"] == "waking" and sum(world.desired().values()) > 0
    return world


def migrate_with_waker(aws, waker, *, seconds: float = 900.0, on_run_task=None):
    """The runner with the waker reachable; `on_run_task` sees the world when the migration task starts."""
    sleeps: list[float] = []
    ecs = aws.ecs
    if on_run_task is not None:

        class Watched:
            def __getattr__(self, name):
                return getattr(aws.ecs, name)

            def run_task(self, **kwargs):
                on_run_task()
                return aws.ecs.run_task(**kwargs)

        ecs = Watched()
    config = migrator.RunnerConfig(**{**aws.config.__dict__, "waker_function": "airflow-dev-waker"})
    result = migrator.migrate(
        {"taskDefinitionArn": aws.task_definition, "databaseId": "db-1"},
        config=config,
        ecs=ecs,
        rds=aws.rds,
        seconds_left=lambda: seconds - sum(sleeps),
        sleep=sleeps.append,
        lambda_client=waker,
    )
    return result, sleeps


def test_the_old_version_is_held_asleep_while_the_migration_runs(aws):
    """Regression: the migration ran beside the old version's scheduler, workers and api-server, against a schema
    it was changing. The runner now has the waker hold the stack asleep, waits until the old version's tasks have
    stopped, and only then starts the migration; a wake meanwhile is refused. (ECS keeps a task running after its
    service is scaled to zero until it stops: SIGTERM, then the container's stopTimeout; see the ECS Developer
    Guide, "Amazon ECS task lifecycle".)"""
    world = awake_world(aws)
    world.clients = dataclasses.replace(world.clients, ecs=SlowToStop(world.clients.ecs, describes=2))
    clock = {"at": START + timedelta(minutes=5)}
    waker = WakerLambda(world, lambda: clock["at"])
    seen: dict = {}

    def at_run_task():
        status = world.invoke({"action": "status"}, clock["at"])
        seen["current"] = status["current"]
        seen["wake"] = world.invoke({"action": "wake", "holdMinutes": 30, "reason": "a person"}, clock["at"])

    result, sleeps = migrate_with_waker(aws, waker, on_run_task=at_run_task)
    assert result["status"] == "migrated"
    assert not any(seen["current"]["running"].values()) and not any(seen["current"]["desired"].values())
    assert sleeps, "the runner waited for the old version's tasks to stop"
    assert result["oldVersion"].startswith("held asleep: ") and "stopped first" in result["oldVersion"]
    assert seen["wake"]["ok"] is False and "held asleep for a migration" in seen["wake"]["reason"]
    assert waker.actions()[0] == "migration" and waker.actions()[-1] == "migration"
    # Released once done: the stack is what it was (the wake's hold runs on), `pulumi up` moving the services next.
    assert waker.answers[-1]["ok"] and "held awake until" in waker.answers[-1]["reason"]
    assert all(world.desired()[c] == 1 for c in ("scheduler", "api-server"))


def test_an_asleep_stack_is_held_asleep_and_its_stopped_database_started(aws):
    world = aws.world
    world.invoke({"action": "tick"}, START)  # asleep, nothing due: the waker stops the database
    assert aws.rds.describe_db_instances()["DBInstances"][0]["DBInstanceStatus"] == "stopped"
    at = START + timedelta(minutes=1)
    seen = []
    result, _ = migrate_with_waker(
        aws, WakerLambda(world, lambda: at), on_run_task=lambda: seen.append(world.invoke({"action": "status"}, at))
    )
    assert result["status"] == "migrated" and result["oldVersion"] == "asleep"
    assert "held asleep for a migration" in seen[0]["reason"]
    assert seen[0]["signals"]["database"] == "available"  # started by the waker, held up for the migration
    after = world.invoke({"action": "tick"}, at + timedelta(minutes=1))
    assert after["state"] == "asleep" and "migration" not in after["reason"]


def test_old_tasks_that_do_not_stop_keep_the_migration_from_running(aws):
    world = awake_world(aws)
    world.clients = dataclasses.replace(world.clients, ecs=SlowToStop(world.clients.ecs, describes=10**6))
    waker = WakerLambda(world, lambda: START + timedelta(minutes=5))
    with pytest.raises(migrator.MigrationFailed, match=r"task\(s\) of the old version still run"):
        migrate_with_waker(aws, waker, seconds=120)
    assert aws.ecs.list_tasks(cluster="airflow-dev", startedBy="airflow-migrate")["taskArns"] == []
    released = json.loads(waker.calls[-1]["Payload"])
    assert released["action"] == "migration" and released["holdMinutes"] == 0  # the old version may run again


def test_a_failed_migration_ends_the_hold_at_once(aws, migration_exits_3):
    world = awake_world(aws)
    at = START + timedelta(minutes=5)
    with pytest.raises(migrator.MigrationFailed, match="exit code 3"):
        migrate_with_waker(aws, WakerLambda(world, lambda: at))
    # Released at once: the old version, on the schema it knows, runs again (the update stopped before the services).
    assert all(world.desired()[c] == 1 for c in ("scheduler", "api-server"))


def test_a_waker_that_fails_stops_the_migration_before_it_starts(aws, monkeypatch):
    world = awake_world(aws)
    waker = WakerLambda(world, lambda: START + timedelta(minutes=5))
    monkeypatch.setattr(world, "invoke", lambda event, at: {"ok": False, "error": "AccessDenied on ecs:UpdateService"})
    with pytest.raises(migrator.MigrationFailed, match=r"did not hold the stack asleep.*AccessDenied"):
        migrate_with_waker(aws, waker)
    assert aws.ecs.list_tasks(cluster="airflow-dev", startedBy="airflow-migrate")["taskArns"] == []


def test_a_first_deploy_has_no_waker_and_nothing_to_hold(aws):
    result, _ = migrate_with_waker(aws, WakerLambda(aws.world, lambda: START, missing=True))
    assert result["status"] == "migrated" and result["oldVersion"] == "none: a first deploy"


def test_the_hold_request_is_one_the_waker_reads():
    from contracts.waker import Migration, parse_event

    assert parse_event({"action": "migration", "holdMinutes": 25, "reason": "x"}, default_hold_minutes=60) == (
        Migration(hold_minutes=25, reason="x")
    )
    with pytest.raises(ValueError, match="holdMinutes"):
        parse_event({"action": "migration"}, default_hold_minutes=60)
