"""The CLI acts only on the stack it names, and a stopped `stage` leaves no stack in maintenance (moto).

Outputs are checked against --stack by the names the program gives a stack's resources (`airflow-<stack>`,
`airflow-<stack>-waker`) before anything is asked of AWS. SIGTERM (a cancelled CI job) and Ctrl-C during
`stage` end the maintenance hold it had taken, when it stops before writing the new stack file.
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from airflow_stack import cli, operations
from tests.cli.conftest import ROOT, cli_run
from tests.cli.test_bad_invocations import state
from tests.support.waker_world import START


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
        raise AssertionError("the signal did not stop the wait")

    monkeypatch.setattr(operations, "wait_for_counts", interrupted_wait)
    code = cli_run(world, "stage", "--from", "prod", "--snapshot", "airflow-prod-older", project=project)
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERRUPTED, err
    assert "interrupted" in err and "maintenance hold ended" in err
    assert world.invoke({"action": "status"}, START)["maintenance"] is None
    assert (project / "Pulumi.staging.yaml").read_text() == staged, "nothing replaced"


def test_end_maintenance_by_hand(world, capsys):
    world.invoke({"action": "maintenance", "on": True, "reason": "database being replaced"}, world.now)
    assert cli_run(world, "end-maintenance", "--stack", "dev", "--reason", "guard ran by hand") == 0
    assert world.invoke({"action": "status"}, world.now)["maintenance"] is None
