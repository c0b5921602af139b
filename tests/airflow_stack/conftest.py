"""The operator command's world: moto in us-gov-east-1 playing a stack, with its recorded outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest

from airflow_stack import cli, operations
from airflow_stack.outputs import NotDeployed, StackOutputs, read_outputs
from standin.waker_world import START, moto_world

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-gov-east-1"


@pytest.fixture(scope="session")
def recorded_outputs(recordings) -> dict[str, dict]:
    """What `pulumi stack output --json` gives for dev and prod, as the program declares them."""
    return {stack: recordings[stack].exports for stack in ("dev", "prod")}


@pytest.fixture
def world(recorded_outputs, tmp_path):
    with moto_world(database=True, stop_database=False) as world:
        world.outputs_files = outputs_files(recorded_outputs, tmp_path)  # type: ignore[attr-defined]
        world.now = START  # type: ignore[attr-defined]
        yield world


@pytest.fixture
def staging_world(recorded_outputs, tmp_path):
    """The world playing a deployed staging stack (`airflow-staging`), with prod's database and snapshots."""
    with moto_world(database=True, stop_database=False, stack="airflow-staging") as world:
        files = outputs_files(recorded_outputs, tmp_path)
        files["staging"] = tmp_path / "staging-outputs.json"
        files["staging"].write_text(json.dumps(recorded_outputs["dev"]).replace("airflow-dev", "airflow-staging"))
        world.outputs_files = files  # type: ignore[attr-defined]
        world.now = START  # type: ignore[attr-defined]
        prod_database(world)
        yield world


def outputs_files(recorded_outputs: dict[str, dict], folder: Path) -> dict[str, Path]:
    files = {}
    for stack, outputs in recorded_outputs.items():
        files[stack] = folder / f"{stack}-outputs.json"
        files[stack].write_text(json.dumps(outputs))
    return files


def factory(world):
    def make_stack(name: str, outputs_file: Path | None) -> operations.Stack:
        if outputs_file is None and name not in world.outputs_files:
            raise NotDeployed(f"stack {name} has no outputs")
        outputs = StackOutputs.of(name, read_outputs(name, Path(outputs_file or world.outputs_files[name])))
        return operations.Stack(
            outputs,
            lambda service: boto3.client(service, region_name=REGION),
            lambda event: world.invoke(event, world.now),
        )

    return make_stack


def state(world, project: Path) -> dict:
    """What a command could change in the world: the services' counts, the waker's stored state, the snapshots,
    and the project's files."""
    try:
        memory = world.clients.ssm.get_parameter(Name=world.config.state_parameter)["Parameter"]["Value"]
    except world.clients.ssm.exceptions.ParameterNotFound:
        memory = None
    snapshots = world.clients.rds.describe_db_snapshots()["DBSnapshots"]
    return {
        "desired": world.desired(),
        "memory": memory,
        "snapshots": len(snapshots),
        "files": sorted(p.name for p in project.iterdir()),
    }


def not_outputs_files(folder: Path) -> dict[str, Path]:
    """Files an `--outputs` option may name that hold no stack's outputs, written into `folder`."""
    contents = {
        "list.json": b"[1, 2]",
        "text.json": b"not json",
        "empty.json": b"{}",
        "latin1.json": '{"region": "caf\xe9"}'.encode("latin-1"),
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "huge.json": b'{"padding": "' + b"x" * (2 * 1024 * 1024) + b'"}',
    }
    for name, content in contents.items():
        (folder / name).write_bytes(content)
    return {name: folder / name for name in contents}


def cli_run(world, *argv: str, project: Path | None = None) -> int:
    return cli.run(list(argv), make_stack=factory(world), project_dir=project)


@pytest.fixture(name="prod_database")
def prod_database_fixture(world):
    return prod_database(world)


def prod_database(world):
    rds = world.clients.rds
    rds.create_db_instance(
        DBInstanceIdentifier="airflow-prod",
        Engine="postgres",
        DBInstanceClass="db.t4g.small",
        MasterUsername="airflow",
        MasterUserPassword="password-1234",
        AllocatedStorage=50,
    )
    for name in ("airflow-prod-older", "airflow-prod-newest"):
        rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier="airflow-prod")
    return rds


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(ROOT / "Pulumi.prod.yaml", folder / "Pulumi.prod.yaml")
    return folder
