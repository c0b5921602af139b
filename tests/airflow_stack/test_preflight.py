"""`airflow-stack preflight` and `predeploy` against the stand-in AWS (moto with IAM enforced), read-only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from airflow_stack import cli, operations
from airflow_stack.outputs import StackOutputs
from standin.seed import seed
from standin.stand_in import running_stand_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    with running_stand_in(
        tmp_path_factory.mktemp("stand-in"), lambda_concurrency=5, not_orderable=("db.t4g.small",)
    ) as aws:
        yield aws


def deployer(stand_in, name: str, denied: tuple[str, ...] = ()) -> dict:
    """A deploying role allowed everything but `denied`, and its credentials."""
    iam = stand_in.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    statements: list[dict] = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    if denied:
        statements.append({"Effect": "Deny", "Action": list(denied), "Resource": "*"})
    iam.put_role_policy(
        RoleName=name,
        PolicyName="deploy",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return stand_in.credentials(name)


def project_with(tmp_path: Path, stack: str, changes: dict) -> Path:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    for key, value in changes.items():
        document["config"][key] = {**document["config"].get(key, {}), **value}
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    return tmp_path


def preflight(stand_in, credentials, project: Path, stack: str) -> int:
    return cli.run(
        ["preflight", "--stack", stack],
        project_dir=project,
        make_clients=lambda region: lambda service: stand_in.client(service, credentials),
    )


def test_a_ready_account_passes_with_the_warnings_it_deserves(stand_in, tmp_path, capsys):
    credentials = deployer(stand_in, "deploy-ready")
    assert preflight(stand_in, credentials, project_with(tmp_path, "dev", {}), "dev") == 0
    out = capsys.readouterr().out
    assert "ok    RDS: db.t4g.micro with PostgreSQL 16 is orderable" in out
    assert "warn  Lambda concurrency: 5 concurrent executions" in out and "L-B99A9384" in out
    assert "ok    Fargate: x86_64 on FARGATE" in out  # dev's defaults need no probe
    assert "warn  service-linked role: AWSServiceRoleForECS does not exist" in out
    assert "ok    deployer: arn:aws-us-gov:iam::123456789012:role/deploy-ready may do all" in out
    assert "0 failed" in out


def test_what_would_fail_is_named_with_its_fix(stand_in, tmp_path, capsys):
    credentials = deployer(stand_in, "deploy-short", denied=("rds:CreateDBInstance", "iam:PassRole"))
    acm = stand_in.client("acm")
    certificate = acm.request_certificate(DomainName="airflow.example.gov")["CertificateArn"]
    project = project_with(tmp_path, "prod", {"airflow:ui": {"certificateArn": certificate}})
    assert preflight(stand_in, credentials, project, "prod") == cli.EXIT_REFUSED
    out = capsys.readouterr().out
    assert "FAIL  RDS: db.t4g.small with PostgreSQL 16 is not orderable in us-gov-east-1" in out
    assert "FAIL  deployer:" in out and "iam:PassRole, rds:CreateDBInstance" in out
    assert "certificate:" in out
    # Read-only: everything the deployer did was a read.
    calls = stand_in.calls_by("deploy-short")
    assert calls and all(op.split(":")[1].startswith(("Get", "Describe", "List", "Simulate")) for op in calls), calls


def test_predeploy_starts_the_stopped_database_and_holds_it(stand_in, tmp_path, recordings, capsys):
    seeded = seed(stand_in, recordings["dev"])
    outputs = seeded.outputs()
    identifier = outputs["databaseIdentifier"]
    stand_in.client("rds").stop_db_instance(DBInstanceIdentifier=identifier)
    waker = stand_in.client("lambda")

    def make_stack(name, outputs_file):
        invoke = operations.lambda_invoker(waker, outputs["wakerFunction"])
        return operations.Stack(StackOutputs.of(name, outputs), stand_in.client, invoke)

    assert cli.run(["predeploy", "--stack", "dev", "--hold", "45m"], make_stack=make_stack) == 0
    assert "database available: ready for pulumi up -s dev" in capsys.readouterr().out
    state = json.loads(stand_in.client("ssm").get_parameter(Name="/airflow-dev/waker/state")["Parameter"]["Value"])
    assert state["database_hold_until"], "the waker holds the database up for the deploy"
    # The waker's own run (a real Lambda, as its role) was allowed everything it did.
    assert [e for e in stand_in.refusals() if e["principal"] == seeded.function_role("waker-function")] == []


def test_predeploy_of_a_stack_never_deployed_does_nothing(tmp_path, capsys):
    outputs = tmp_path / "outputs.json"
    outputs.write_text("{}")
    assert cli.run(["predeploy", "--stack", "dev", "--outputs", str(outputs)]) == 0
    assert "nothing to prepare" in capsys.readouterr().out


def test_a_restored_stack_checks_the_deployer_may_read_the_source_secret(stand_in, tmp_path, capsys):
    source = "arn:aws-us-gov:secretsmanager:us-gov-east-1:123456789012:secret:airflow-prod-airflow-1a2b3c4d-AbCdEf"
    project = project_with(
        tmp_path,
        "dev",
        {
            "airflow:database": {"restoreFromSnapshot": "rds:airflow-prod-2026-12-01-04-00"},
            "airflow:secrets": {"fernetKeyFrom": source},
        },
    )
    allowed = deployer(stand_in, "deploy-copies-key")
    assert preflight(stand_in, allowed, project, "dev") == 0
    assert f"ok    Fernet key: arn:aws-us-gov:iam::123456789012:role/deploy-copies-key may read {source}" in (
        capsys.readouterr().out
    )
    refused = deployer(stand_in, "deploy-no-key", denied=("secretsmanager:GetSecretValue",))
    assert preflight(stand_in, refused, project, "dev") == cli.EXIT_REFUSED
    assert "FAIL  Fernet key:" in capsys.readouterr().out
