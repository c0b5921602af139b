"""`predeploy` and `wake --wait` stop waiting, with what to do, on a database in a status it does not leave by
itself (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status):
regression, both waited their whole timeout (30 minutes for predeploy) and then said only that it timed out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_stack import cli, operations
from airflow_stack.outputs import StackOutputs, read_outputs
from contracts.database import DATABASE_STUCK
from tests.airflow_stack.conftest import REGION
from tests.support.rds_status import StatusShown


def showing(world, status: str):
    def make_stack(name: str, outputs_file: Path | None) -> operations.Stack:
        outputs = StackOutputs.of(name, read_outputs(name, Path(outputs_file or world.outputs_files[name])))

        def client(service: str) -> Any:
            real = boto3.client(service, region_name=REGION)
            return StatusShown(real, status) if service == "rds" else real

        return operations.Stack(outputs, client, lambda event: world.invoke(event, world.now))

    return make_stack


@pytest.mark.parametrize("status", ["storage-full", "incompatible-restore", "inaccessible-encryption-credentials"])
def test_predeploy_stops_at_once_and_says_what_to_do(world, capsys, status):
    code = cli.run(["predeploy", "--stack", "dev", "--timeout", "1m"], make_stack=showing(world, status))
    assert code == cli.EXIT_REFUSED
    err = capsys.readouterr().err
    assert status in err and DATABASE_STUCK[status] in err and "timed out" not in err


def test_a_wake_that_waits_stops_at_once_on_a_stuck_database(world, capsys):
    code = cli.run(["wake", "--stack", "dev", "--wait", "--timeout", "1m"], make_stack=showing(world, "storage-full"))
    assert code == cli.EXIT_REFUSED
    assert "storage-full" in capsys.readouterr().err


def test_an_available_database_ends_the_wait_at_once(world):
    code = cli.run(["predeploy", "--stack", "dev", "--timeout", "1m"], make_stack=showing(world, "available"))
    assert code == 0
