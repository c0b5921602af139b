"""`airflow-stack` installed from the project's own distribution into a fresh virtualenv works outside the
checkout: every room it imports (the settings reader, the offline program, the contracts) is in the wheel.
`status` asks the stand-in's waker (run from its Lambda archive) and `stage` writes a staging stack file from
the seeded dev stack, both in a folder that holds nothing of the repository but a stack file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from standin.identity import ADMIN_KEY, ADMIN_SECRET
from standin.seed import seed
from standin.stand_in import REGION, running_stand_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project installed as a user installs it (`pip install .`), into a virtualenv of its own."""
    uv = shutil.which("uv")
    assert uv is not None, "uv installs the project (make install)"
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([uv, "venv", "-q", "--python", "3.11", str(venv)], check=True, timeout=120)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(ROOT)], check=True, timeout=600
    )
    return venv / "bin"


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_holds_every_room(installed, tmp_path):
    code = (
        "import json, airflow_stack, contracts, infra, lambdas.waker, offline.recording, image;"
        "print(json.dumps([m.__file__ for m in (airflow_stack, contracts, infra, lambdas.waker, offline.recording)]))"
    )
    result = run([str(installed / "python"), "-c", code], tmp_path, {"PATH": os.environ["PATH"]})
    assert result.returncode == 0, result.stderr[-2000:]
    files = [Path(f) for f in json.loads(result.stdout)]
    assert all(f.is_relative_to(installed.parent) for f in files), files  # not the checkout's


def test_status_and_stage_work_outside_the_checkout(installed, recordings, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "Pulumi.dev.yaml", project / "Pulumi.dev.yaml")
    command = str(installed / "airflow-stack")
    with running_stand_in(tmp_path / "aws") as stand_in:
        seeded = seed(stand_in, recordings["dev"])
        outputs = tmp_path / "dev-outputs.json"
        outputs.write_text(json.dumps(seeded.outputs()))
        stand_in.client("rds").create_db_snapshot(
            DBSnapshotIdentifier="airflow-dev-before-upgrade", DBInstanceIdentifier=seeded.export("databaseIdentifier")
        )
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "AWS_ENDPOINT_URL": stand_in.endpoint,
            "AWS_ACCESS_KEY_ID": ADMIN_KEY,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

        shown = run([command, "--help"], project, env)
        assert shown.returncode == 0 and "stage" in shown.stdout and "deploy-dags" in shown.stdout

        status = run([command, "status", "--stack", "dev", "--outputs", str(outputs), "--json"], project, env)
        assert status.returncode == 0, status.stderr[-3000:]
        assert json.loads(status.stdout)["state"] == "asleep"

        staged = run([command, "stage", "--from", "dev", "--outputs", str(outputs)], project, env)
        assert staged.returncode == 0, staged.stdout[-2000:] + staged.stderr[-3000:]
    written = yaml.safe_load((project / "Pulumi.staging.yaml").read_text())["config"]
    assert written["airflow:database"]["restoreFromSnapshot"].endswith("airflow-dev-before-upgrade")
    assert written["airflow:restoredFrom"]["stack"] == "dev"
