"""The deploying role's policy (`airflow-stack deployer-policy`), judged as IAM would judge it.

IAM's limits: a customer managed policy holds at most 6,144 characters without whitespace, and a role takes 10
managed policies by default (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
Which resource and condition keys each create call is authorised on: the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html),
as standin/authorization.py models it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from airflow_stack import deployer, operations, smoke
from airflow_stack.cli import EXIT_CODES, run
from airflow_stack.operations import StackFactory
from airflow_stack.outputs import StackError, StackOutputs
from contracts.metrics import HEARTBEAT, NAMESPACE_VARIABLE
from infra.airflow_env import ACTIVITY_REPORTER
from infra.settings import load_settings
from offline.recording import Recording, Secret, load_stack_file
from standin.iam_policy import evaluate
from standin.seed import AIRFLOW_SECRET, SeededStack, seed
from standin.stand_in import ACCOUNT, PARTITION, REGION, StandIn, running_stand_in
from tests.support.variants import VARIANTS

ROOT = Path(__file__).resolve().parents[2]
STATE_BUCKET = f"airflow-pulumi-state-{ACCOUNT}-{REGION}"
NOT_AWS = ("pulumi:", "random:")  # resources Pulumi makes itself


def documents(recordings: dict[str, Recording], key: str) -> list[dict]:
    """The generated policies of a variant: its settings (worker policies, a restore's snapshot and source
    secret) and the resource types its program declares."""
    stack, overrides = VARIANTS[key]
    config = {**load_stack_file(stack), **overrides}
    secret = [k for k, v in config.items() if isinstance(v, Secret) or v == "[secret]"]
    settings = load_settings(stack, {k: v.value if isinstance(v, Secret) else v for k, v in config.items()}, secret)
    types = {r.type for r in recordings[key].resources if r.custom}
    return deployer.documents(deployer.target_of(settings, ACCOUNT), types, STATE_BUCKET)


@pytest.mark.parametrize("key", list(VARIANTS))
def test_every_resource_type_the_program_declares_has_its_grants(recordings, key):
    types = {r.type for r in recordings[key].resources if r.custom and not r.type.startswith(NOT_AWS)}
    covered = {t for g in deployer.GRANTS for t in g.types}
    assert types - covered == set(), "a resource type `pulumi up` would create without the deployer's grants"


@pytest.mark.parametrize("key", list(VARIANTS))
def test_the_policies_fit_iams_limits_and_name_no_other_partition(recordings, key):
    parts = documents(recordings, key)
    assert 1 <= len(parts) <= 10
    for part in parts:
        assert deployer.policy_chars(part) <= deployer.MANAGED_POLICY_MAX_CHARS
        assert "arn:aws:" not in json.dumps(part)
        for statement in part["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(a.count(":") == 1 and a.split(":")[1] for a in actions), statement["Sid"]
            assert statement["Action"] != "*" and "*" not in actions
    statements = [s for p in parts for s in p["Statement"]]
    assert len({s["Sid"] for s in statements}) == len(statements), "statement ids are unique across the parts"


# The create call of each resource the stack names, and the recorded ARN it is authorised on.
CREATES = {
    "aws:iam/role:Role": "iam:CreateRole",
    "aws:iam/policy:Policy": "iam:CreatePolicy",
    "aws:sqs/queue:Queue": "sqs:CreateQueue",
    "aws:sns/topic:Topic": "sns:CreateTopic",
    "aws:lambda/function:Function": "lambda:CreateFunction",
    "aws:cloudwatch/logGroup:LogGroup": "logs:CreateLogGroup",
    "aws:ssm/parameter:Parameter": "ssm:PutParameter",
    "aws:ecs/cluster:Cluster": "ecs:CreateCluster",
    "aws:ecr/repository:Repository": "ecr:CreateRepository",
    "aws:s3/bucket:Bucket": "s3:CreateBucket",
    "aws:secretsmanager/secret:Secret": "secretsmanager:CreateSecret",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "cloudwatch:PutMetricAlarm",
}


def test_every_named_resource_of_every_stack_is_within_its_own_policy_only(recordings):
    for key, recording in recordings.items():
        own = documents(recordings, key)
        others = [documents(recordings, k) for k, r in recordings.items() if r.stack != recording.stack]
        for resource in recording.resources:
            action = CREATES.get(resource.type)
            if action is None:
                continue
            arn = str(resource.outputs["arn"])
            if resource.type == "aws:cloudwatch/metricAlarm:MetricAlarm":
                arn = arn.replace(":metricalarm/", ":alarm:")  # the mock's ARN; CloudWatch's is alarm:<name>
            context = {"aws:RequestedRegion": REGION}
            assert evaluate(own, action, arn, context).allowed, f"{key}: {action} on {arn}"
            for other in others:  # another stack's deploying role cannot create or change it
                assert not evaluate(other, action, arn, context).allowed, f"{key}: another stack's role may {action}"


def role_with(stand_in: StandIn, role: str, policy_arns: list[str]) -> dict[str, str]:
    """A role the account's principals may assume, with only `policy_arns` attached; its credentials."""
    iam = stand_in.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    for arn in policy_arns:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return stand_in.credentials(role)


def deploying_role(stand_in: StandIn, parts: list[dict]) -> dict[str, str]:
    """The deploying role with only `parts` attached (as the README has them created); its credentials."""
    iam = stand_in.client("iam")
    arns = [
        iam.create_policy(PolicyName=deployer.policy_name("prod", index), PolicyDocument=json.dumps(document))[
            "Policy"
        ]["Arn"]
        for index, document in enumerate(parts, start=1)
    ]
    return role_with(stand_in, "deployer", arns)


@pytest.fixture(scope="module")
def deploy(recordings, tmp_path_factory):
    """The prod stack's recorded resources created in the stand-in by a role with only the generated policies."""
    with running_stand_in(tmp_path_factory.mktemp("stand-in")) as stand_in:
        credentials = deploying_role(stand_in, documents(recordings, "prod"))
        since = stand_in.mark()
        seeded = seed(stand_in, recordings["prod"], credentials=credentials)
        yield stand_in, seeded, credentials, since


def test_a_recorded_deploys_create_calls_pass_under_the_generated_policy(deploy):
    stand_in, _, _, since = deploy
    assert stand_in.refusals(since) == []
    made = stand_in.calls_by("deployer")
    # Every kind of resource the program declares that the stand-in can create was created by the role.
    assert {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:CreatePolicy",
        "ecs:CreateCluster",
        "ecs:RegisterTaskDefinition",
        "ecs:CreateService",
        "sqs:CreateQueue",
        "secretsmanager:CreateSecret",
        "logs:CreateLogGroup",
        "scheduler:CreateScheduleGroup",
        "scheduler:CreateSchedule",
        "sns:CreateTopic",
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateRule",
        "rds:CreateDBInstance",
        "s3:CreateBucket",
    } <= made, sorted(made)
    assert any(op.startswith("lambda:") for op in made)


CALLS_MORE = (
    "a role outside the stack's path",
    "another stack's queue",
    "an administrator policy on the stack's role",
    "a stack's role passed to a function outside the stack",
    "a user",
)


@pytest.mark.parametrize("call", CALLS_MORE)
def test_one_call_more_is_refused(deploy, call):
    stand_in, seeded, credentials, _ = deploy
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    function = seeded.recording.of_type("aws:lambda/function:Function")[0]
    stack_role = seeded.function_role(function.name)
    iam, sqs = stand_in.client("iam", credentials), stand_in.client("sqs", credentials)
    attempts = {
        "a role outside the stack's path": lambda: iam.create_role(RoleName="escalate", AssumeRolePolicyDocument=trust),
        "another stack's queue": lambda: sqs.create_queue(QueueName="airflow-dev-celery"),
        "an administrator policy on the stack's role": lambda: iam.attach_role_policy(
            RoleName=stack_role, PolicyArn=f"arn:{PARTITION}:iam::aws:policy/AdministratorAccess"
        ),
        "a stack's role passed to a function outside the stack": lambda: stand_in.client(
            "lambda", credentials
        ).create_function(
            FunctionName="not-the-stacks",
            Runtime=function.inputs["runtime"],
            Role=stand_in.role_arn(stack_role),
            Handler=function.inputs["handler"],
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        ),
        "a user": lambda: iam.create_user(UserName="airflow-prod-ci"),
    }
    since = stand_in.mark()
    with pytest.raises(ClientError) as refused:
        attempts[call]()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, refused.value
    assert [e["principal"] for e in stand_in.refusals(since)] == ["deployer"], "refused by IAM, as the deployer"


def test_without_one_grant_the_same_deploy_is_refused_where_it_needs_it(recordings, tmp_path):
    trimmed = [
        {**p, "Statement": [s for s in p["Statement"] if s["Sid"] != "PassRolesToTheirServices"]}
        for p in documents(recordings, "prod")
    ]
    with running_stand_in(tmp_path / "stand-in") as stand_in:
        credentials = deploying_role(stand_in, trimmed)
        with pytest.raises(ClientError):
            seed(stand_in, recordings["prod"], credentials=credentials)
        assert [e["operation"] for e in stand_in.refusals()] == ["ecs:RegisterTaskDefinition"]


def test_preflight_run_as_the_deploying_role_finds_it_may_deploy(deploy, tmp_path, capsys):
    stand_in, _, credentials, _ = deploy
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    stack_file = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    certificate = stand_in.client("acm").request_certificate(DomainName="airflow.example.gov")["CertificateArn"]
    stack_file["config"]["airflow:ui"]["certificateArn"] = certificate
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack_file))
    code = run(
        ["preflight", "--stack", "prod"],
        project_dir=tmp_path,
        make_clients=lambda region: lambda service: stand_in.client(service, credentials),
    )
    out = capsys.readouterr().out
    assert f"ok    deployer: arn:{PARTITION}:iam::{ACCOUNT}:role/deployer may do all" in out, out
    # Every read preflight makes is the deploying role's to make; only the stand-in's unvalidated certificate fails.
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert code == 2 and failed == ["FAIL  certificate: status PENDING_VALIDATION"], out


def test_the_command_writes_the_policies_and_says_how_to_attach_them(tmp_path, capsys):
    assert run(["deployer-policy", "--stack", "prod", "--account", ACCOUNT, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    written = sorted(tmp_path.glob("airflow-prod-deployer-*.json"))
    assert written and all(json.loads(p.read_text())["Statement"] for p in written)
    assert f"--policy-arn arn:{PARTITION}:iam::{ACCOUNT}:policy/airflow-prod-deployer-1" in out
    assert run(["deployer-policy", "--stack", "prod", "--account", "12345"]) == 2
    assert "--account must be a 12-digit AWS account ID" in capsys.readouterr().err


def stack_factory(stand_in: StandIn, seeded: SeededStack, credentials: dict[str, str]) -> StackFactory:
    def make(name: str, outputs_file: Path | None) -> operations.Stack:
        outputs = StackOutputs.of(name, seeded.outputs())

        def client(service: str) -> Any:
            return stand_in.client(service, credentials)

        return operations.Stack(outputs, client, operations.lambda_invoker(client("lambda"), outputs["wakerFunction"]))

    return make


def test_the_deploying_role_reads_the_admin_password_and_an_operator_does_not(deploy, capsys):
    stand_in, seeded, credentials, _ = deploy
    assert run(["admin-password", "--stack", "prod"], make_stack=stack_factory(stand_in, seeded, credentials)) == 0
    out = capsys.readouterr().out
    secret = json.loads(seeded.secret_values[AIRFLOW_SECRET])
    assert out == secret["admin_password"] + "\n", "the password alone: not the connection, not the keys"

    operator = role_with(stand_in, "operator", [seeded.outputs()["operatorPolicyArn"]])
    assert run(["admin-password", "--stack", "prod"], make_stack=stack_factory(stand_in, seeded, operator)) == 4
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "AWS error" in err


# --- `airflow-stack smoke`, as the deploying role -------------------------------------------------------------
# The stand-in plays ECS and the worker here (the rehearsal runs the real trigger task and the real DAG in the
# image): services reach their desired counts, the one-off task ends as the test says, and the task's log lands
# where Airflow's remote logging puts it. ECS's task fields: lastStatus, containers[].exitCode
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html).


class PlayedEcs:
    """Running counts follow desired counts; each one-off task ends with `exit_code` and, on 0, its log lands."""

    def __init__(
        self, stand_in: StandIn, seeded: SeededStack, exit_code: int = 0, log: bool = True, runs_for: float = 1.5
    ) -> None:
        self.stand_in, self.seeded, self.exit_code, self.log = stand_in, seeded, exit_code, log
        self.runs_for = runs_for  # the trigger task's time: the command describes it several times meanwhile
        self.runs: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def __enter__(self) -> PlayedEcs:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.stand_in.ecs_running_file.unlink(missing_ok=True)

    def loop(self) -> None:
        ecs, s3, cloudwatch = (self.stand_in.client(name) for name in ("ecs", "s3", "cloudwatch"))
        outputs = self.seeded.outputs()
        cluster, bucket = outputs["clusterName"], outputs["dagBucket"]
        reporter = next(c for c in self.seeded.containers("scheduler") if c["name"] == ACTIVITY_REPORTER)
        namespace = next(e["value"] for e in reporter["environment"] if e["name"] == NAMESPACE_VARIABLE)
        seen = set(ecs.list_tasks(cluster=cluster, startedBy=smoke.STARTED_BY)["taskArns"])  # earlier tests'
        ending: list[tuple[float, dict[str, Any], str, str]] = []
        while not self.stop.wait(0.2):
            for due, task, container, run_id in [e for e in ending if e[0] <= time.monotonic()]:
                ending.remove((due, task, container, run_id))
                if self.exit_code == 0 and self.log:
                    event = {"event": f"{smoke.SMOKE_LINE}: Airflow 3.3.2 on ip-10-0-1-5", "level": "info"}
                    key = f"logs/dag_id={smoke.DAG_ID}/run_id={run_id}/task_id=report/attempt=1.log"
                    s3.put_object(Bucket=bucket, Key=key, Body=(json.dumps(event) + "\n").encode())
                self.stand_in.stop_one_off(task["taskArn"], container, self.exit_code, "Essential exited")
            names = list(outputs["serviceNames"].values())
            described = ecs.describe_services(cluster=cluster, services=names)["services"]
            running = {s["serviceName"]: s["desiredCount"] for s in described}
            self.stand_in.ecs_running_file.write_text(json.dumps(running))
            if running.get(outputs["serviceNames"]["scheduler"]):  # the reporter beside it: nothing active
                data = [{"MetricName": HEARTBEAT, "Timestamp": datetime.now(UTC), "Value": 0.0}]
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
            arns = ecs.list_tasks(cluster=cluster, startedBy=smoke.STARTED_BY)["taskArns"]
            for task in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []:
                if task["taskArn"] in seen:
                    continue
                seen.add(task["taskArn"])
                override = task["overrides"]["containerOverrides"][0]
                run_id = override["command"][4]
                self.runs.append({"task": task, "container": override["name"], "run_id": run_id})
                ending.append((time.monotonic() + self.runs_for, task, override["name"], run_id))


FAST = smoke.Timeouts(wake=60, trigger=30, log=30, sleep=20, interval=0.25)


def run_smoke(stand_in: StandIn, seeded: SeededStack, credentials: dict[str, str], **options: Any) -> tuple[int, str]:
    stack = stack_factory(stand_in, seeded, credentials)("prod", None)
    lines: list[str] = []
    try:
        smoke.smoke(stack, out=lines.append, **{"timeouts": FAST, **options})
        code = 0
    except StackError as error:
        lines.append(f"airflow-stack: {error}")
        code = next(c for kind, c in EXIT_CODES if isinstance(error, kind))
    return code, "\n".join(lines)


@pytest.fixture
def shipped(deploy):
    """The smoke DAG in the stack's bundle, as `make deploy-dags` leaves it; the stack asleep afterwards."""
    stand_in, seeded, _, _ = deploy
    bucket = seeded.outputs()["dagBucket"]
    s3 = stand_in.client("s3")
    s3.put_object(Bucket=bucket, Key=smoke.DAG_FILE, Body=(ROOT / smoke.DAG_FILE).read_bytes())
    yield
    s3.delete_object(Bucket=bucket, Key=smoke.DAG_FILE)
    ecs = stand_in.client("ecs")
    for name in seeded.outputs()["serviceNames"].values():
        ecs.update_service(cluster=seeded.outputs()["clusterName"], service=name, desiredCount=0)


def test_smoke_as_the_deploying_role_wakes_triggers_finds_the_log_and_lets_the_stack_sleep(deploy, shipped):
    stand_in, seeded, credentials, _ = deploy
    since = stand_in.mark()
    with PlayedEcs(stand_in, seeded) as ecs:
        code, out = run_smoke(stand_in, seeded, credentials)
    assert code == 0, out
    assert stand_in.refusals(since) == [], "every call the smoke makes is the deploying role's to make"
    steps = [line.split("]", 1)[1].split()[0] for line in out.splitlines()]
    assert list(dict.fromkeys(steps)) == ["bundle", "wake", "trigger", "log", "sleep"], out
    (run,) = ecs.runs
    definition = run["task"]["taskDefinitionArn"]
    processor = seeded.outputs()["serviceNames"]["dag-processor"]
    service = stand_in.client("ecs").describe_services(cluster=seeded.outputs()["clusterName"], services=[processor])[
        "services"
    ][0]
    assert definition == service["taskDefinition"] and run["container"] == "dag-processor"
    assert run["task"]["startedBy"] == smoke.STARTED_BY
    assert f"run {run['run_id']} created" in out and "every service at zero" in out, out
    assert f"{smoke.SMOKE_LINE}: Airflow 3.3.2 on ip-10-0-1-5" in out


def test_smoke_before_the_dags_are_shipped_says_so_and_wakes_nothing(deploy):
    stand_in, seeded, credentials, _ = deploy
    with PlayedEcs(stand_in, seeded):
        code, out = run_smoke(stand_in, seeded, credentials)
    assert code == 2 and len(out.splitlines()) == 1, out
    assert "make deploy-dags STACK=prod" in out and "nothing was woken" in out
    ecs = stand_in.client("ecs")
    described = ecs.describe_services(
        cluster=seeded.outputs()["clusterName"], services=list(seeded.outputs()["serviceNames"].values())
    )["services"]
    assert all(s["desiredCount"] == 0 for s in described), "not woken"


def test_a_trigger_task_that_fails_fails_the_smoke_naming_its_log_stream(deploy, shipped):
    stand_in, seeded, credentials, _ = deploy
    with PlayedEcs(stand_in, seeded, exit_code=3):
        code, out = run_smoke(stand_in, seeded, credentials)
    assert code == 1, out
    failure = out.splitlines()[-1]
    assert "the trigger task exited 3" in failure and "stream dag-processor/dag-processor/" in failure, failure


def test_a_run_whose_log_never_reaches_the_bucket_fails_the_smoke_saying_where_to_look(deploy, shipped):
    stand_in, seeded, credentials, _ = deploy
    with PlayedEcs(stand_in, seeded, log=False):
        code, out = run_smoke(stand_in, seeded, credentials, timeouts=dataclasses.replace(FAST, log=2))
    assert code == 1, out
    failure = out.splitlines()[-1]
    assert f"no log under s3://{seeded.outputs()['dagBucket']}/logs/dag_id=airflow_smoke/run_id=smoke__" in failure
    assert "worker's log group" in failure, failure


def test_interrupted_while_the_trigger_task_runs_the_smoke_stops_it(deploy, shipped):
    stand_in, seeded, credentials, _ = deploy
    stack = stack_factory(stand_in, seeded, credentials)("prod", None)
    with PlayedEcs(stand_in, seeded, runs_for=60) as ecs:

        def sleep(seconds: float) -> None:
            if ecs.runs:  # Ctrl-C once the trigger task runs
                raise KeyboardInterrupt
            time.sleep(seconds)

        with pytest.raises(KeyboardInterrupt):
            smoke.smoke(stack, timeouts=FAST, clock=smoke.Clock(sleep=sleep), out=lambda _: None)
    (run,) = ecs.runs
    (task,) = stand_in.client("ecs").describe_tasks(
        cluster=seeded.outputs()["clusterName"], tasks=[run["task"]["taskArn"]]
    )["tasks"]
    assert task["lastStatus"] == "STOPPED" and task["stoppedReason"] == "airflow-stack smoke: interrupted"


def test_an_operator_may_not_run_the_trigger_task(deploy, shipped, capsys):
    """The trigger task holds the dag-processor's roles: passing them is the deploying role's, not an operator's."""
    stand_in, seeded, _, _ = deploy
    iam = stand_in.client("iam")
    if "operator" not in {r["RoleName"] for r in iam.list_roles()["Roles"]}:
        role_with(stand_in, "operator", [seeded.outputs()["operatorPolicyArn"]])
    operator = stand_in.credentials("operator")
    since = stand_in.mark()
    with PlayedEcs(stand_in, seeded) as ecs:
        code = run(["smoke", "--stack", "prod"], make_stack=stack_factory(stand_in, seeded, operator))
    err = capsys.readouterr().err
    assert code == 4 and len(err.splitlines()) == 1 and "AWS error" in err, err
    assert ecs.runs == [], "no task started"
    refused = {e["operation"] for e in stand_in.refusals(since)}
    assert refused and refused <= {"ecs:DescribeTaskDefinition", "ecs:RunTask"}, refused
