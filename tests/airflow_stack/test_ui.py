"""`airflow-stack ui`: a port forward to the api-server of a stack without a load balancer.

ECS's answers are checked against botocore's model of the ECS API (a Stubber refuses a response field the API
does not have), since moto's ECS keeps no container runtime ids and no ECS Exec flag. What ECS Exec needs is from
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html (the service's enableExecuteCommand,
the task role's `ssmmessages` channels); Session Manager's target name for a container,
`ecs:<cluster>_<task id>_<runtime id>`, and its port-forwarding document from the AWS Systems Manager User Guide.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from airflow_stack import cli, operations, ui_command
from airflow_stack.outputs import StackError, StackOutputs
from infra import iam_policies
from standin.iam_policy import evaluate
from standin.waker_world import START
from tests.airflow_stack.conftest import REGION, cli_run

CLUSTER = "airflow-dev"
TASK = f"arn:aws-us-gov:ecs:{REGION}:123456789012:task/{CLUSTER}/0123456789abcdef0123456789abcdef"


def ecs_answering(tasks: list[dict[str, Any]]) -> Any:
    """An ECS client whose ListTasks and DescribeTasks answer `tasks` (validated against the API's model)."""
    client = boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response(
        "list_tasks",
        {"taskArns": [t["taskArn"] for t in tasks]},
        {"cluster": CLUSTER, "serviceName": "api-server", "desiredStatus": "RUNNING"},
    )
    if tasks:
        stubber.add_response(
            "describe_tasks",
            {"tasks": tasks, "failures": []},
            {"cluster": CLUSTER, "tasks": [t["taskArn"] for t in tasks]},
        )
    stubber.activate()
    return client


def task(arn: str = TASK, *, started: int = 1, runtime: str | None = "abc123-1234", exec_on: bool = True) -> dict:
    container: dict[str, Any] = {"name": "api-server", "lastStatus": "RUNNING"}
    if runtime:
        container["runtimeId"] = runtime
    return {
        "taskArn": arn,
        "lastStatus": "RUNNING",
        "startedAt": datetime(2026, 12, 6, 10, started, tzinfo=UTC),
        "enableExecuteCommand": exec_on,
        "containers": [container, {"name": "log-router", "lastStatus": "RUNNING", "runtimeId": "other"}],
    }


def test_the_forward_targets_the_newest_running_api_server_container():
    older = task(TASK.replace("0123", "9999"), started=1, runtime="old-1")
    newest = task(started=5, runtime="new-5")
    target = ui_command.port_forward_target(ecs_answering([older, newest]), CLUSTER)
    assert target == f"ecs:{CLUSTER}_0123456789abcdef0123456789abcdef_new-5"
    command = ui_command.session_command(REGION, target, 9090)
    assert command[:3] == ["aws", "ssm", "start-session"]
    assert command[command.index("--document-name") + 1] == "AWS-StartPortForwardingSession"
    assert json.loads(command[command.index("--parameters") + 1]) == {
        "portNumber": ["8080"],
        "localPortNumber": ["9090"],
    }


@pytest.mark.parametrize(
    ("tasks", "said"),
    [
        ([], "no api-server task runs in airflow-dev: wake the stack first"),
        ([task(runtime=None)], "has not started its container yet"),
        ([task(exec_on=False)], "set ui.portForward: true"),
    ],
)
def test_what_stops_the_forward_is_said(tasks, said):
    with pytest.raises(StackError, match=said):
        ui_command.port_forward_target(ecs_answering(tasks), CLUSTER)


def test_without_the_tools_it_says_what_to_install_and_wakes_nothing(world, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli_run(world, "ui", "--stack", "dev") == 4
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "aws and session-manager-plugin, not found" in err
    assert not any(world.desired().values()), "nothing was woken for a forward that cannot start"


class EcsOfTheStack:
    """moto's ECS for the services (what the wait reads), and ECS's model-checked answers for the tasks (moto's
    tasks have no runtime id)."""

    def __init__(self) -> None:
        self.services = boto3.client("ecs", region_name=REGION)
        self.tasks = ecs_answering([task()])

    def describe_services(self, **kwargs: Any) -> Any:
        return self.services.describe_services(**kwargs)

    def list_tasks(self, **kwargs: Any) -> Any:
        return self.tasks.list_tasks(**kwargs)

    def describe_tasks(self, **kwargs: Any) -> Any:
        return self.tasks.describe_tasks(**kwargs)


def test_it_wakes_the_stack_waits_for_it_then_prints_the_forward(world, capsys):
    ecs = EcsOfTheStack()

    def make_stack(name: str, outputs_file: Any) -> operations.Stack:
        outputs = StackOutputs.of(name, json.loads(world.outputs_files[name].read_text()))
        return operations.Stack(
            outputs,
            lambda service: ecs if service == "ecs" else boto3.client(service, region_name=REGION),
            lambda event: world.invoke(event, world.now),
        )

    assert cli.run(["ui", "--stack", "dev", "--print", "--hold", "2h"], make_stack=make_stack) == 0
    out = capsys.readouterr().out
    assert f"--target ecs:{CLUSTER}_0123456789abcdef0123456789abcdef_abc123-1234" in out.splitlines()[-1]
    assert world.desired()["api-server"] == 1, "woken before the forward"
    held = world.invoke({"action": "status"}, START + timedelta(minutes=100))
    assert held["state"] != "asleep", "held awake for --hold"


def test_a_bad_port_is_refused_before_anything(world, capsys):
    assert cli_run(world, "ui", "--stack", "dev", "--port", "80") == 2
    assert "--port must be 1024 to 65535" in capsys.readouterr().err
    assert not any(world.desired().values())


# --- the stack's side, from the program's recording ------------------------------------------------------------


def _services(recording) -> dict[str, Any]:
    return {r.inputs["name"]: r for r in recording.of_type("aws:ecs/service:Service")}


def _role_policy(recording, component: str) -> dict:
    family = next(
        r
        for r in recording.of_type("aws:ecs/taskDefinition:TaskDefinition")
        if r.inputs["family"].endswith(f"-{component}")
    )
    role = str(family.inputs["taskRoleArn"]).rsplit("/", 1)[-1]
    logical = next(r.name for r in recording.of_type("aws:iam/role:Role") if r.outputs["name"] == role)
    policy = recording.one("aws:iam/rolePolicy:RolePolicy", logical)
    return json.loads(str(policy.inputs["policy"]))


def test_only_a_stack_without_a_load_balancer_runs_its_api_server_with_ecs_exec(recordings):
    dev, prod = recordings["dev"], recordings["prod"]
    assert {n for n, s in _services(dev).items() if s.inputs.get("enableExecuteCommand")} == {"api-server"}
    assert not any(s.inputs.get("enableExecuteCommand") for s in _services(prod).values())
    channels = {"ssmmessages:CreateControlChannel", "ssmmessages:OpenDataChannel"}
    assert evaluate([_role_policy(dev, "api-server")], "ssmmessages:OpenDataChannel", "*", {}).allowed
    for component in ("scheduler", "worker"):
        assert not any(evaluate([_role_policy(dev, component)], action, "*", {}).allowed for action in channels), (
            component
        )
    assert not evaluate([_role_policy(prod, "api-server")], "ssmmessages:OpenDataChannel", "*", {}).allowed
    assert set(iam_policies.EXEC_CHANNELS) >= channels


def test_the_operator_may_forward_a_port_and_never_open_a_shell(recordings):
    outputs = StackOutputs.of("dev", recordings["dev"].exports)
    policy = json.loads(str(recordings["dev"].one("aws:iam/policy:Policy").inputs["policy"]))
    task_arn = f"arn:aws-us-gov:ecs:{REGION}:123456789012:task/{CLUSTER}/0123456789abcdef"
    document = f"arn:aws-us-gov:ssm:{REGION}::document/"
    context = {"ecs:cluster": f"arn:aws-us-gov:ecs:{REGION}:123456789012:cluster/{outputs['clusterName']}"}
    assert evaluate([policy], "ecs:ListTasks", "*", context).allowed
    assert evaluate([policy], "ecs:DescribeTasks", task_arn, {}).allowed
    assert evaluate([policy], "ssm:StartSession", task_arn, {}).allowed
    assert evaluate([policy], "ssm:StartSession", document + "AWS-StartPortForwardingSession", {}).allowed
    for shell in (
        "SSM-SessionManagerRunShell",
        "AWS-StartInteractiveCommand",
        "AWS-StartPortForwardingSessionToRemoteHost",
    ):
        assert not evaluate([policy], "ssm:StartSession", document + shell, {}).allowed, shell
    assert not evaluate([policy], "ecs:ExecuteCommand", task_arn, {"ecs:container-name": "api-server"}).allowed
    other = {"ecs:cluster": f"arn:aws-us-gov:ecs:{REGION}:123456789012:cluster/airflow-prod"}
    assert not evaluate([policy], "ecs:ListTasks", "*", other).allowed
