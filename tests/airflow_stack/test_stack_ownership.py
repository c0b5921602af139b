"""The CLI acts only on the stack it names, and a stopped `stage` leaves no stack in maintenance (moto).

Outputs are checked against --stack by the names the program gives a stack's resources (`airflow-<stack>`,
`airflow-<stack>-waker`) before anything is asked of AWS. SIGTERM (a cancelled CI job) and Ctrl-C during
`stage` end the maintenance hold it had taken, when it stops before writing the new stack file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest
import yaml

from airflow_stack import cli, operations
from infra.settings import load_settings, stack_config_from_yaml
from offline.recording import run_program
from standin.waker_world import START
from tests.airflow_stack.conftest import ROOT, cli_run, state


def other_stacks_outputs(world, stack: str):
    return str(world.outputs_files[stack])


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--stack", "dev"],
        ["wake", "--stack", "dev", "--hold", "2h"],
        ["sleep", "--stack", "dev", "--force"],
        ["sleep", "--stack", "dev", "--wait"],
        ["snapshot", "--stack", "dev"],
        ["predeploy", "--stack", "dev"],
        ["end-maintenance", "--stack", "dev"],
    ],
)
def test_every_command_refuses_another_stacks_outputs(world, prod_database, project, capsys, argv):
    calls = []
    original = world.invoke
    world.invoke = lambda event, at, **options: calls.append(event) or original(event, at, **options)  # type: ignore[method-assign]
    before = state(world, project)
    code = cli_run(world, *argv, "--outputs", other_stacks_outputs(world, "prod"), project=project)
    out = capsys.readouterr()
    assert code == 3, out
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "stack prod's, not dev's" in lines[0] and "clusterName is airflow-prod" in lines[0]
    assert calls == [] and state(world, project) == before


def test_stage_refuses_target_outputs_of_another_stack_before_any_call(world, prod_database, project, capsys):
    calls = []
    original = world.invoke
    world.invoke = lambda event, at, **options: calls.append(event) or original(event, at, **options)  # type: ignore[method-assign]
    code = cli_run(
        world, "stage", "--from", "prod", "--target-outputs", other_stacks_outputs(world, "prod"), project=project
    )
    assert code == 3 and "stack prod's, not staging's" in capsys.readouterr().err
    assert calls == [] and not (project / "Pulumi.staging.yaml").exists()
    # And the source's outputs must be the source's.
    code = cli_run(world, "stage", "--from", "prod", "--outputs", other_stacks_outputs(world, "dev"), project=project)
    assert code == 3 and "stack dev's, not prod's" in capsys.readouterr().err


def test_the_names_of_a_stack_whose_name_extends_anothers_are_not_taken_for_it(recorded_outputs):
    from airflow_stack.outputs import WrongStack, check_owner

    dev2 = {
        k: (v.replace("airflow-dev", "airflow-dev-2") if isinstance(v, str) else v)
        for k, v in recorded_outputs["dev"].items()
    }
    with pytest.raises(WrongStack, match="dev-2's, not dev's"):
        check_owner("dev", dev2)
    check_owner("dev-2", dev2)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_stage_ends_the_maintenance_hold_it_took(
    staging_world, project, capsys, monkeypatch, signal_number
):
    world = staging_world
    shutil.copy(ROOT / "Pulumi.dev.yaml", project / "Pulumi.dev.yaml")
    assert cli_run(world, "stage", "--from", "prod", project=project) == 0  # the first stage, deployed since
    staged = (project / "Pulumi.staging.yaml").read_text()
    world.invoke({"action": "wake", "holdMinutes": 60, "reason": "rehearsing"}, START)
    assert world.desired()["scheduler"] == 1

    def interrupted_wait(stack, want, timeout):
        os.kill(os.getpid(), signal_number)  # as a cancelled CI job or Ctrl-C would, while stage waits
        # The kernel may hand the signal to another thread; Python runs its handler in the main thread at
        # its next check, so the wait goes on (as the real one would) until it does.
        for _ in range(500):
            time.sleep(0.01)
        raise AssertionError("the signal did not stop the wait")

    monkeypatch.setattr(operations, "wait_for_counts", interrupted_wait)
    # Ctrl-C in a terminal reaches Python's own SIGINT handler; a test run started in the background (`&`, with
    # no job control) inherits SIGINT ignored, so the handler is put in place as a terminal has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = cli_run(world, "stage", "--from", "prod", "--snapshot", "airflow-prod-older", project=project)
    finally:
        signal.signal(signal.SIGINT, previous)
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERRUPTED, err
    assert "interrupted" in err and "maintenance hold ended" in err
    assert world.invoke({"action": "status"}, START)["maintenance"] is None
    assert (project / "Pulumi.staging.yaml").read_text() == staged, "nothing replaced"


def test_end_maintenance_by_hand(world, capsys):
    world.invoke({"action": "maintenance", "on": True, "reason": "database being replaced"}, world.now)
    assert cli_run(world, "end-maintenance", "--stack", "dev", "--reason", "guard ran by hand") == 0
    assert world.invoke({"action": "status"}, world.now)["maintenance"] is None


def test_stage_takes_prods_newest_snapshot_when_it_is_automated_and_storage_has_grown(world, project, capsys):
    """RDS's daily snapshots are named `rds:<db>-YYYY-MM-DD-HH-MM`; DescribeDBSnapshots lists them with the
    manual ones. Prod's storage autoscaled to 150 GB: the copy needs at least that, and keeps autoscaling."""
    world.clients.rds.create_db_instance(
        DBInstanceIdentifier="airflow-prod",
        Engine="postgres",
        DBInstanceClass="db.t4g.small",
        MasterUsername="airflow",
        MasterUserPassword="password-1234",
        AllocatedStorage=150,
        BackupRetentionPeriod=7,  # moto takes the automated snapshot at once
    )
    code = cli_run(world, "stage", "--from", "prod", project=project)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "automated snapshot" in out.out and "150 GB" in out.out
    document = yaml.safe_load((project / "Pulumi.staging.yaml").read_text())
    database = document["config"]["airflow:database"]
    assert database["restoreFromSnapshot"].startswith("rds:airflow-prod-")
    assert database["allocatedStorageGb"] == 150 and database["maxAllocatedStorageGb"] == 200  # prod's ceiling
    flat = stack_config_from_yaml(document)
    load_settings("staging", flat)
    instance = run_program("staging", flat).one("aws:rds/instance:Instance")
    assert instance.inputs["snapshotIdentifier"] == database["restoreFromSnapshot"]
    assert instance.inputs["allocatedStorage"] == 150 and instance.inputs["maxAllocatedStorage"] == 200


def test_stage_refuses_a_snapshot_of_another_database(world, prod_database, project, capsys):
    world.clients.rds.create_db_snapshot(
        DBSnapshotIdentifier="airflow-dev-20261201-000000", DBInstanceIdentifier="airflow-dev"
    )
    code = cli_run(world, "stage", "--from", "prod", "--snapshot", "airflow-dev-20261201-000000", project=project)
    assert code == 2
    assert "is of database airflow-dev, not prod's airflow-prod" in capsys.readouterr().err
    assert not (project / "Pulumi.staging.yaml").exists()


def test_the_operator_policy_reaches_this_stacks_snapshots_and_no_other_stacks(recordings):
    """IAM's `?` matches exactly one character (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html),
    evaluated here by the stand-in's IAM evaluator."""
    from standin.iam_policy import evaluate

    recording = recordings["dev"]
    document = json.loads(recording.one("aws:iam/policy:Policy", "operators-policy").inputs["policy"])
    prefix = "arn:aws-us-gov:rds:us-gov-east-1:123456789012:snapshot:"

    def allowed(action: str, resource: str) -> bool:
        return evaluate([document], action, resource, {}).allowed

    for own in ("airflow-dev-20261206-040000", "rds:airflow-dev-2026-12-06-04-00"):
        assert allowed("rds:DescribeDBSnapshots", prefix + own), own
    for other in (
        "airflow-dev-2-20261206-040000",
        "rds:airflow-dev-2-2026-12-06-04-00",
        "airflow-dev-x-20261206-0400",
        "airflow-prod-20261206-040000",
    ):
        assert not allowed("rds:DescribeDBSnapshots", prefix + other), other
    key = recording.one("aws:rds/instance:Instance").outputs["kmsKeyId"]
    assert allowed("kms:DescribeKey", key)
    assert not allowed("kms:DescribeKey", "arn:aws-us-gov:kms:us-gov-east-1:123456789012:key/another-key")
