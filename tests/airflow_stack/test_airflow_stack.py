"""`airflow-stack` against moto in us-gov-east-1 and recorded stack outputs (from the program under mocks)."""

from __future__ import annotations

import json

import boto3
import pytest
import yaml

from airflow_stack import cli, operations
from airflow_stack.outputs import StackOutputs
from infra.settings import load_settings, stack_config_from_yaml
from offline.recording import run_program, run_stack
from standin.waker_world import START, minutes
from tests.airflow_stack.conftest import REGION, cli_run


def test_status_reports_state_counts_database_and_ui(world, capsys):
    assert cli_run(world, "status", "--stack", "dev", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["state"] == "asleep" and report["database"] == "available"
    assert report["current"]["desired"] == dict.fromkeys(report["current"]["desired"], 0)
    assert report["uiUrl"].startswith("http://api-server.airflow-dev.internal")
    assert cli_run(world, "status", "--stack", "dev") == 0
    table = capsys.readouterr().out
    assert "state       asleep" in table and "scheduler" in table and "database    available" in table


def test_wake_then_sleep(world, capsys):
    assert cli_run(world, "wake", "--stack", "dev", "--hold", "2h", "--reason", "demo") == 0
    assert capsys.readouterr().out.startswith("waking:")
    services = world.clients.ecs.describe_services(cluster="airflow-dev", services=["scheduler"])["services"]
    assert services[0]["desiredCount"] == 1

    world.now = START + minutes(30)
    world.report(START + minutes(29), dag_runs_running=1, **{"ti:running": 1})
    assert cli_run(world, "sleep", "--stack", "dev") == cli.EXIT_WAKER_REFUSED
    assert "refused" in capsys.readouterr().err
    assert cli_run(world, "sleep", "--stack", "dev", "--force", "--hold", "30m") == 0
    assert world.desired() == dict.fromkeys(world.desired(), 0)


def test_wake_wait_follows_the_services_until_they_run(world, capsys):
    # moto reports a service's tasks running as soon as its desired count is set.
    assert cli_run(world, "wake", "--stack", "dev", "--wait", "--timeout", "1m") == 0
    out = capsys.readouterr().out
    assert "scheduler 1/1" in out and out.strip().endswith("running")


def test_wait_for_counts_sees_the_services_come_up(world):
    world.invoke({"action": "wake", "holdMinutes": 0, "reason": "x"}, START)
    outputs = StackOutputs.of("dev", json.loads(world.outputs_files["dev"].read_text()))
    calls = {"n": 0}
    real = boto3.client("ecs", region_name=REGION)

    class Starting:  # the ECS API as it answers while tasks start: running catches up with desired
        def describe_services(self, **kwargs):
            calls["n"] += 1
            answer = real.describe_services(**kwargs)
            for service in answer["services"]:
                service["runningCount"] = service["desiredCount"] if calls["n"] >= 3 else 0
            return answer

    stack = operations.Stack(outputs, lambda _: Starting(), lambda e: {})
    lines: list[str] = []
    assert operations.wait_for_counts(stack, operations.all_up, timeout=60, progress=lines.append, sleep=lambda _: None)
    assert calls["n"] == 3 and "scheduler 1/1" in lines[-1]

    class NeverStarting:
        def describe_services(self, **kwargs):
            answer = real.describe_services(**kwargs)
            for service in answer["services"]:
                service["runningCount"] = 0
            return answer

    ticks = iter(range(0, 1000, 10))
    stuck = operations.Stack(outputs, lambda _: NeverStarting(), lambda e: {})
    assert not operations.wait_for_counts(
        stuck, operations.all_up, timeout=60, progress=lines.append, sleep=lambda _: None, clock=lambda: next(ticks)
    )
    assert "scheduler 0/1" in lines[-1]


def test_snapshot_waits_until_available_and_prints_its_id(world, capsys):
    assert cli_run(world, "snapshot", "--stack", "dev") == 0
    identifier = capsys.readouterr().out.strip()
    assert identifier.startswith("airflow-dev-")
    snapshot = world.clients.rds.describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"][0]
    assert snapshot["Status"] == "available" and snapshot["DBInstanceIdentifier"] == "airflow-dev"


def test_stage_writes_the_config_a_restore_needs(world, prod_database, project, recorded_outputs, capsys):
    code = cli_run(world, "stage", "--from", "prod", "--stack", "staging", project=project)
    assert code == 0, capsys.readouterr()
    document = yaml.safe_load((project / "Pulumi.staging.yaml").read_text())
    config = document["config"]
    assert config["airflow:database"]["restoreFromSnapshot"] == "airflow-prod-newest"
    assert config["airflow:database"]["deletionProtection"] is False
    assert config["airflow:database"]["allocatedStorageGb"] == 50  # a restore needs at least the snapshot's size
    assert config["airflow:secrets"] == {
        "fernetKeyFrom": recorded_outputs["prod"]["airflowSecretArn"],
        "recoveryWindowDays": 0,
    }
    assert "windows" not in config["airflow:waker"]
    assert "pulumi up -s staging" in capsys.readouterr().out

    # The program accepts it, and restores as a staging stack must.
    flat = stack_config_from_yaml(document)
    load_settings("staging", flat)
    recording = run_program("staging", flat)
    instance = recording.one("aws:rds/instance:Instance")
    assert instance.inputs["snapshotIdentifier"] == "airflow-prod-newest"
    assert not instance.inputs.get("deletionProtection") and not instance.protect
    migrate = json.loads(
        recording.one("aws:ecs/taskDefinition:TaskDefinition", "airflow-migration-task").inputs["containerDefinitions"]
    )[0]
    assert {"name": "AIRFLOW_RESTORED_FROM_SNAPSHOT", "value": "airflow-prod-newest"} in migrate["environment"]
    assert "restore_guard.py" in migrate["command"][2], "every DAG is paused before any scheduler runs"
    fernet = {
        s["valueFrom"]
        for c in json.loads(
            recording.one("aws:ecs/taskDefinition:TaskDefinition", "airflow-scheduler-task").inputs[
                "containerDefinitions"
            ]
        )
        for s in c["secrets"]
        if s["name"] == "AIRFLOW__CORE__FERNET_KEY"
    }
    # Staging's tasks read staging's own secret, into which `pulumi up` copies prod's fernet_key.
    own = recording.one("aws:secretsmanager/secret:Secret").outputs["arn"]
    assert fernet == {own + ":fernet_key::"}
    assert recorded_outputs["prod"]["airflowSecretArn"] not in json.dumps(
        [r.inputs for r in recording.resources], default=str
    )


def test_stage_keeps_an_existing_staging_stacks_own_settings(world, prod_database, project):
    (project / "Pulumi.staging.yaml").write_text(
        yaml.safe_dump(
            {
                "encryptionsalt": "v1:abc",
                "config": {"aws:region": REGION, "airflow:database": {"restoreFromSnapshot": "x"}},
            }
        )
    )
    assert cli_run(world, "stage", "--from", "prod", "--snapshot", "airflow-prod-older", project=project) == 0
    document = yaml.safe_load((project / "Pulumi.staging.yaml").read_text())
    assert document["encryptionsalt"] == "v1:abc"
    assert document["config"]["airflow:database"]["restoreFromSnapshot"] == "airflow-prod-older"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack", "prod"], "refusing to write stack 'prod'"),
        (["--snapshot", "no-such-snapshot"], "not found"),
    ],
)
def test_stage_refuses_unsafe_requests(world, prod_database, project, capsys, argv, message):
    assert cli_run(world, "stage", "--from", "prod", *argv, project=project) == cli.EXIT_REFUSED
    assert message in capsys.readouterr().err
    assert not (project / "Pulumi.staging.yaml").exists() or argv[0] == "--stack"


def test_stage_refuses_a_snapshot_encrypted_with_a_key_the_stack_cannot_use(world, project, capsys):
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]
    world.clients.rds.create_db_instance(
        DBInstanceIdentifier="airflow-prod",
        Engine="postgres",
        DBInstanceClass="db.t4g.small",
        MasterUsername="a",
        MasterUserPassword="password-1234",
        AllocatedStorage=20,
        StorageEncrypted=True,
        KmsKeyId=key["Arn"],
    )
    world.clients.rds.create_db_snapshot(DBSnapshotIdentifier="encrypted", DBInstanceIdentifier="airflow-prod")
    kms.disable_key(KeyId=key["KeyId"])
    assert cli_run(world, "stage", "--from", "prod", project=project) == cli.EXIT_REFUSED
    assert "Disabled" in capsys.readouterr().err
    assert not (project / "Pulumi.staging.yaml").exists()


def test_a_prod_config_refuses_a_snapshot_change():
    from infra.settings.schema import SettingsError

    with pytest.raises(SettingsError, match=r"airflow:database\.restoreFromSnapshot: restoring replaces"):
        run_stack(
            "prod",
            {
                "airflow:database": json.dumps(
                    {"restoreFromSnapshot": "airflow-prod-newest", "deletionProtection": True}
                )
            },
        )


def test_the_entry_point_is_installed():
    import shutil as which

    assert which.which("airflow-stack"), "uv sync installs the airflow-stack command"


def test_status_names_a_service_that_does_not_start_with_its_ecs_events():
    report = {
        "stack": "dev",
        "state": "awake",
        "reason": "awake: starting up; not starting: worker (short since 12:00)",
        "database": "available",
        "notStarting": {
            "worker": {
                "shortSince": "2026-11-25T12:00:00+00:00",
                "events": [
                    "(service worker) was unable to place a task because no container instance met all "
                    "of its requirements."
                ],
            }
        },
        "current": {"desired": {"worker": 2}, "running": {"worker": 0}},
        "signals": {},
        "lead": {
            "servicesMinutes": 6,
            "measuredWakeMinutes": [4.5, 4.0, 5.0],
            "databaseMinutes": 13,
            "measuredDatabaseStartMinutes": [11.0, 9.5, 12.0],
        },
    }
    text = operations.render_status(report)
    assert "lead        6 min; wakes measured: 4.5, 4, 5 min" in text
    assert "ticks" not in text, "awake: the minute tick runs, nothing to say"
    assert "ticks       hourly watch only" in operations.render_status({**report, "minuteTicks": False})
    assert "+ 13 min while the database is stopped; starts measured: 11, 9.5, 12 min" in text
    assert "NOT STARTING worker: short of its desired count since 2026-11-25T12:00:00+00:00" in text
    assert "ECS: (service worker) was unable to place a task" in text


def test_status_says_whether_the_last_migration_ran_with_the_old_version_asleep_or_held():
    report = {"stack": "dev", "state": "asleep", "reason": "asleep", "database": "stopped", "current": {}}
    held = {"status": "migrated", "at": "2026-12-06T12:00:00+00:00", "oldVersion": "held asleep: 5 task(s) stopped"}
    text = operations.render_status({**report, "migration": held})
    assert "migration   migrated at 2026-12-06T12:00:00+00:00 (old version held asleep: 5 task(s) stopped)" in text
