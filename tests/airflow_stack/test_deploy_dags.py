"""Shipping DAGs: tests first, a minimal sync to the stack's bucket, then a wake request. Against moto."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from airflow_stack import deploy_dags
from contracts.waker import Wake, parse_event

ROOT = Path(__file__).resolve().parents[2]

REGION = "us-gov-east-1"
BUCKET = "airflow-dev-dags"


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        iam = boto3.client("iam", region_name=REGION, endpoint_url=f"https://iam.{REGION}.amazonaws.com")
        role = iam.create_role(RoleName="waker", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="airflow-dev-waker",
            Runtime="python3.13",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        yield boto3.client("s3", region_name=REGION)


OUTPUTS = {"region": REGION, "dagBucket": BUCKET, "wakerFunction": "airflow-dev-waker"}


def deploy(folder: Path, tests_pass: bool = True, outputs=OUTPUTS, tested: list | None = None):
    def run_tests(affected):
        (tested if tested is not None else []).append(affected)
        return tests_pass

    return deploy_dags.deploy(
        outputs,
        folder=folder,
        tests_pass=run_tests,
        clients=lambda name, region: boto3.client(name, region_name=region),
    )


def keys(s3) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}


def test_sync_uploads_changes_removes_deleted_files_and_wakes(aws, tmp_path):
    (tmp_path / "a.py").write_text("# a\n")
    (tmp_path / "b.py").write_text("# b\n")
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "q.sql").write_text("select 1;\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")

    first = deploy(tmp_path)
    assert sorted(first["uploaded"]) == ["a.py", "b.py", "sql/q.sql"]
    assert keys(aws) == {"dags/a.py": b"# a\n", "dags/b.py": b"# b\n", "dags/sql/q.sql": b"select 1;\n"}
    # moto's Lambda answers with the event it received: it must be a wake request the waker accepts.
    assert parse_event(first["wake"], default_hold_minutes=60) == Wake(15, "DAGs deployed")

    again = deploy(tmp_path)
    assert again["uploaded"] == [] and again["deleted"] == [] and again["unchanged"] == 3
    assert again["wake"] is None, "nothing changed, nothing to parse"

    (tmp_path / "a.py").write_text("# a, changed\n")
    (tmp_path / "b.py").unlink()
    tested: list = []
    third = deploy(tmp_path, tested=tested)
    assert third["uploaded"] == ["a.py"] and third["deleted"] == ["b.py"]
    assert tested == [["a.py"]], "only the changed file's end-to-end runs"
    assert keys(aws) == {"dags/a.py": b"# a, changed\n", "dags/sql/q.sql": b"select 1;\n"}


def test_nothing_is_uploaded_when_the_dag_tests_fail(aws, tmp_path):
    (tmp_path / "a.py").write_text("# a\n")
    with pytest.raises(SystemExit, match="DAG tests failed: nothing was uploaded"):
        deploy(tmp_path, tests_pass=False)
    assert keys(aws) == {}


def test_outputs_of_another_kind_of_stack_are_refused(aws, tmp_path):
    with pytest.raises(SystemExit, match="dagBucket"):
        deploy(tmp_path, outputs={"region": REGION})


def test_outputs_can_come_from_a_file(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    assert deploy_dags.stack_outputs(None, path) == OUTPUTS


def test_the_real_dags_folder_ships_only_what_airflow_reads():
    shipped = deploy_dags.local_files(deploy_dags.DAGS)
    assert "orders_ingest.py" in shipped and "orders_common.py" in shipped
    assert not [name for name in shipped if "__pycache__" in name or name.endswith(".pyc")]


def test_a_changed_helper_module_tests_every_dag_that_imports_it(tmp_path):
    (tmp_path / "common.py").write_text("BUCKET = 'b'\n")
    (tmp_path / "uses_it.py").write_text("from common import BUCKET\n")
    (tmp_path / "imports_it.py").write_text("import json\n  import common as c\n")
    (tmp_path / "other.py").write_text("import commonplace\n# from common import nothing (a comment)\n")
    assert deploy_dags.affected_files(tmp_path, ["common.py"]) == ["common.py", "imports_it.py", "uses_it.py"]
    assert deploy_dags.affected_files(tmp_path, ["other.py", "sql/q.sql"]) == ["other.py"]


def test_the_dag_tests_run_only_the_changed_dags_end_to_end():
    # What deploy-dags asks pytest for when only orders_transform.py changed: every parse and policy test,
    # and orders_transform's run, none of the others'.
    # The listing is read line by line: options from the caller's PYTEST_ADDOPTS (-q, -v) would change it.
    env = {**os.environ, "DAG_TESTS_FILES": "orders_transform.py", "PYTEST_ADDOPTS": ""}
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "tests/dags"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    ids = [line for line in collected.splitlines() if "::" in line]
    runs = [i for i in ids if "test_dag_runs.py" in i]
    assert runs == ["tests/dags/test_dag_runs.py::test_transform_totals_per_customer"], collected
    assert sum("test_dag_policy.py" in i for i in ids) >= 8, collected


def test_a_missing_pulumi_cli_exits_4_and_says_how_to_pass_outputs(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SystemExit) as stopped:
        deploy_dags.stack_outputs("dev", None)
    assert stopped.value.code == 4
    assert "make deploy-dags OUTPUTS=FILE" in capsys.readouterr().err


def test_without_aws_credentials_it_says_so_in_one_line_and_exits_4(monkeypatch, capsys, tmp_path, recorded_outputs):
    """Regression: `make deploy-dags` without credentials printed botocore's 60-line traceback."""
    import argparse
    import json

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # its credentials are resolved once per process
    outputs = tmp_path / "dev-outputs.json"
    outputs.write_text(json.dumps(recorded_outputs["dev"]))
    args = argparse.Namespace(stack=None, outputs=outputs, no_wake=True, all_tests=False)
    assert deploy_dags.ship(args) == 4
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no AWS credentials found" in err and "Traceback" not in err
