"""A staging copy of prod never reaches prod: isolation by construction, protection as a setting, and a
re-stage that never lets a scheduler wake against an unguarded database (moto, us-gov-east-1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from airflow_stack import cli
from infra.settings import stack_config_from_yaml
from offline.recording import run_program
from standin.waker_world import START, minutes
from tests.airflow_stack.conftest import ROOT, cli_run

PROD_QUEUE = "arn:aws-us-gov:sqs:us-gov-east-1:123456789012:prod-orders-events"
PROD_POLICY = "arn:aws-us-gov:iam::123456789012:policy/prod-orders-data"
STAGING_QUEUE = "arn:aws-us-gov:sqs:us-gov-east-1:123456789012:staging-orders-events"


@pytest.fixture
def prod_with_targets(project):
    """Prod as a real team has it: DAG settings, a policy for what DAGs touch, an event queue."""
    document = yaml.safe_load((project / "Pulumi.prod.yaml").read_text())
    document["config"]["airflow:services"]["environment"] = {"LAKE_BUCKET": "prod-lake", "REPORT_EMAIL": "ops@x.gov"}
    document["config"]["airflow:services"]["workerPolicyArns"] = [PROD_POLICY]
    document["config"]["airflow:waker"]["eventQueueArns"] = [PROD_QUEUE]
    (project / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    return project


def staging_plan(project: Path):
    flat = stack_config_from_yaml(yaml.safe_load((project / "Pulumi.staging.yaml").read_text()))
    return flat, run_program("staging", flat)


def test_no_prod_queue_policy_or_environment_value_reaches_the_staging_plan(world, prod_database, prod_with_targets):
    code = cli_run(
        world,
        "stage",
        "--from",
        "prod",
        "--set-env",
        "LAKE_BUCKET=staging-lake",
        "--event-queue",
        STAGING_QUEUE,
        project=prod_with_targets,
    )
    assert code == 0
    _, recording = staging_plan(prod_with_targets)
    text = json.dumps([r.inputs for r in recording.resources], default=str)
    for prod_value in (PROD_QUEUE, PROD_POLICY, "prod-lake", "ops@x.gov", "prod-orders-events"):
        assert prod_value not in text, prod_value
    assert "staging-lake" in text and STAGING_QUEUE in text


def test_the_plan_refuses_prod_targets_put_back_by_hand(world, prod_database, prod_with_targets):
    assert cli_run(world, "stage", "--from", "prod", project=prod_with_targets) == 0
    path = prod_with_targets / "Pulumi.staging.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["airflow:services"]["environment"] = {"LAKE_BUCKET": "prod-lake"}
    document["config"]["airflow:services"]["workerPolicyArns"] = [PROD_POLICY]
    document["config"]["airflow:waker"]["eventQueueArns"] = [PROD_QUEUE]
    path.write_text(yaml.safe_dump(document))
    from infra.settings.schema import SettingsError

    with pytest.raises(SettingsError) as refused:
        staging_plan(prod_with_targets)
    message = str(refused.value)
    for key in ("services.environment", "services.workerPolicyArns", "waker.eventQueueArns"):
        assert f"airflow:{key}" in message
    assert "prod's" in message


@pytest.mark.parametrize(
    ("target", "config", "why"),
    [
        ("prod-dr", {"airflow:database": {"deletionProtection": True}}, "is protected"),
        ("analytics", {"airflow:database": {"instanceClass": "db.t4g.micro"}}, "holds data of its own"),
    ],
)
def test_stage_refuses_a_protected_stack_or_one_with_data_of_its_own(
    world, prod_database, project, target, config, why, capsys
):
    (project / f"Pulumi.{target}.yaml").write_text(
        yaml.safe_dump({"config": {"aws:region": "us-gov-east-1", **config}})
    )
    before = (project / f"Pulumi.{target}.yaml").read_text()
    assert cli_run(world, "stage", "--from", "prod", "--stack", target, project=project) == cli.EXIT_REFUSED
    assert why in capsys.readouterr().err
    assert (project / f"Pulumi.{target}.yaml").read_text() == before, "nothing changed"


def test_a_restage_holds_the_deployed_staging_stack_asleep_until_the_guard_has_run(staging_world, project, capsys):
    """The world plays the deployed staging stack (its waker, its services). From the moment `stage` holds it
    until the migration runner reports the guard, nothing wakes a scheduler: not a due DAG, not queued
    messages, not a visit, not the one-time wake."""
    world = staging_world
    shutil.copy(ROOT / "Pulumi.dev.yaml", project / "Pulumi.dev.yaml")
    assert cli_run(world, "stage", "--from", "prod", project=project) == 0  # the first stage, deployed since
    world.invoke({"action": "wake", "holdMinutes": 60, "reason": "rehearsing"}, START)
    assert world.desired()["scheduler"] == 1, "staging is awake when the re-stage starts"

    desired_over_time = []
    original = world.invoke

    def tick_and_record(event, at, **options):
        answer = original(event, at, **options)
        desired_over_time.append((event.get("action"), world.desired()["scheduler"]))
        return answer

    world.invoke = tick_and_record  # type: ignore[method-assign]
    assert cli_run(world, "stage", "--from", "prod", "--snapshot", "airflow-prod-older", project=project) == 0
    assert "maintenance" in capsys.readouterr().out
    world.queue_message = world.clients.sqs.send_message(QueueUrl=world.queue_url, MessageBody="{}")
    for minute, event in enumerate(
        [
            {"action": "tick"},
            {"action": "wake", "holdMinutes": 30, "reason": "UI visit", "source": "visit"},
            {"action": "wake", "holdMinutes": 0, "reason": "next DAG due"},
            {"action": "wake", "holdMinutes": 10, "reason": "DAG bundle changed"},
            {"action": "tick"},
        ],
        start=1,
    ):
        world.report(START + minutes(minute), dags_due=1)
        world.invoke(event, START + minutes(minute))
    assert all(scheduler == 0 for _, scheduler in desired_over_time[1:]), desired_over_time
    status = world.invoke({"action": "status"}, START + minutes(6))
    assert status["maintenance"].startswith("re-staging staging from prod")

    # The migration runner, once the guard has run on the new database, ends the hold.
    ended = world.invoke({"action": "maintenance", "on": False, "reason": "guard ran on db-NEW"}, START + minutes(7))
    assert ended["state"] == "waking" and ended["maintenance"] is None, "the queued work is picked up at once"


def test_no_staging_role_can_read_prods_secret(recordings, tmp_path):
    """The staging stack copies prod's Fernet key into its own secret at `pulumi up`; none of its roles may read
    prod's secret, which holds prod's database password, JWT secret and admin password (IAM enforced by the
    stand-in as AWS evaluates identity policies)."""
    from botocore.exceptions import ClientError

    from standin.seed import seed
    from standin.stand_in import running_stand_in

    with running_stand_in(tmp_path / "stand-in") as stand_in:
        seeded = seed(stand_in, recordings["restore"])
        prod = stand_in.client("secretsmanager").create_secret(
            Name="airflow-prod-airflow-1a2b3c4d", SecretString=json.dumps({"fernet_key": "k", "password": "p"})
        )["ARN"]
        own = seeded.substitute(seeded.recording.one("aws:secretsmanager/secret:Secret").outputs["arn"])
        roles = [r.outputs["name"] for r in seeded.recording.of_type("aws:iam/role:Role")]
        readers_of_own = []
        for role in roles:
            manager = stand_in.client_as(role, "secretsmanager")
            with pytest.raises(ClientError):
                manager.get_secret_value(SecretId=prod)
            refused = [e for e in stand_in.refusals() if e["principal"] == role]
            assert refused and "GetSecretValue" in refused[-1]["operation"], role
            try:
                manager.get_secret_value(SecretId=own)
                readers_of_own.append(role)
            except ClientError:
                pass
        # The enforcement is real: the execution roles do read the stack's own secret.
        assert len(readers_of_own) >= 5 and all("exec" in r or "execution" in r for r in readers_of_own), readers_of_own
