"""`airflow-stack preflight --probe` against the stand-in AWS: a seeded stack, a task started on each capacity
provider its worker uses, and a stand-in that cannot place some of them, answering as ECS does
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html: no task and a `failures` entry)."""

from __future__ import annotations

import pytest

from airflow_stack import cli, operations
from airflow_stack.outputs import StackOutputs
from airflow_stack.probe import PROBE_COMMAND, STARTED_BY
from standin.seed import seed
from standin.stand_in import running_stand_in


def probe(stand_in, recording, capsys) -> tuple[int, str]:
    outputs = seed(stand_in, recording).outputs()

    def make_stack(name, outputs_file):
        invoke = operations.lambda_invoker(stand_in.client("lambda"), outputs["wakerFunction"])
        return operations.Stack(StackOutputs.of(name, outputs), stand_in.client, invoke)

    code = cli.run(["preflight", "--stack", "dev", "--probe"], make_stack=make_stack)
    return code, capsys.readouterr().out


def rule_arn(stand_in) -> str:
    configuration = stand_in.client("lambda").get_function_configuration(FunctionName="airflow-dev-waker")
    return configuration["Environment"]["Variables"]["LISTENER_RULE_ARN"]


def probe_tasks(stand_in, cluster: str) -> list[dict]:
    ecs = stand_in.client("ecs")
    arns = ecs.list_tasks(cluster=cluster, startedBy=STARTED_BY, desiredStatus="STOPPED")["taskArns"]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def test_the_defaults_start_on_fargate_and_every_assumption_is_read(recordings, tmp_path, capsys):
    with running_stand_in(tmp_path) as stand_in:
        code, out = probe(stand_in, recordings["dev"], capsys)
        assert code == 0, out
        assert "ok    probe X86_64 on FARGATE: a worker task of the stack's image started" in out
        assert "FARGATE_SPOT" not in out, "dev's workers use no Spot, so none is probed"
        assert "ok    probe airflow-dev-waker: python3.13 on x86_64, logs to " in out
        assert "ok    probe waker: answers a status request: asleep" in out
        assert "ok    probe schedules: airflow-dev-tick" in out
        assert "waking page rule" not in out, "dev has no load balancer"
        # The task ran the probe's command, not the worker's, and was stopped when the probe ended.
        tasks = probe_tasks(stand_in, "airflow-dev")
        assert len(tasks) == 1 and tasks[0]["lastStatus"] == "STOPPED"
        assert tasks[0]["overrides"]["containerOverrides"][0]["command"] == PROBE_COMMAND


@pytest.mark.parametrize(
    ("unplaceable", "failed", "fallback"),
    [
        ("FARGATE_SPOT/ARM64", "ARM64 on FARGATE_SPOT", "services.workerSpot: false or image.architecture: x86_64"),
        ("ARM64", "ARM64 on FARGATE", "image.architecture: x86_64"),
    ],
)
def test_what_cannot_start_is_named_with_its_fallback(recordings, tmp_path, capsys, unplaceable, failed, fallback):
    """The opted-in variant: ARM64 workers on Spot (with their base of one on FARGATE), behind a load balancer."""
    with running_stand_in(tmp_path, unplaceable=(unplaceable,)) as stand_in:
        code, out = probe(stand_in, recordings["existing-vpc-oidc"], capsys)
        assert code == 2, out
        line = next((line for line in out.splitlines() if line.startswith(f"FAIL  probe {failed}:")), out)
        assert "Capacity is unavailable at this time" in line
        assert f"fix: set {fallback}, then `pulumi up`" in out
        assert "ok    probe waking page rule: ELB takes the source-ip condition the waker switches with" in out
        rule = stand_in.client("elbv2").describe_rules(RuleArns=[rule_arn(stand_in)])["Rules"][0]
        assert [c["Field"] for c in rule["Conditions"]] == ["path-pattern"], "the rule is put back as it was found"
        assert "1 failed" in out or "2 failed" in out
        started = [t for t in probe_tasks(stand_in, "airflow-dev")]
        assert all(t["lastStatus"] == "STOPPED" for t in started), "nothing the probe started is left running"
