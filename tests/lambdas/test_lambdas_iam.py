"""The waker, the waking page, the migration runner and the operator command, with IAM enforced as AWS does.

The stand-in AWS is seeded from the recording of a dev stack with a load balancer, OIDC and wake on visit
(and its database stopped while asleep), so every role holds exactly the policy the program declares. Each
part runs with its own role's credentials: the waker and the runner in-process, the waking page in-process
invoking the waker, which the stand-in runs as a real Lambda (its handler, as its role). Conditions are
evaluated (iam:PassedToService, cloudwatch:namespace, ecs:cluster), and requests are checked against the
APIs' documented constraints (ModifyRule's client secret).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from airflow_stack import cli, operations
from airflow_stack.outputs import StackOutputs
from contracts.metrics import REPORTER_METRICS
from lambdas.migrator import handler as migrator
from lambdas.waker.handler import Clients, WakerConfig, handle
from lambdas.waking_page import handler as waking_page
from standin.seed import SeededStack, seed
from standin.stand_in import running_stand_in

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def aws(tmp_path_factory, recordings):
    with running_stand_in(tmp_path_factory.mktemp("stand-in")) as stand_in:
        yield seed(stand_in, recordings["existing-vpc-oidc"])


def refusals(aws: SeededStack, role: str) -> list[str]:
    return [e["why"] for e in aws.stand_in.refusals() if e["principal"] == role]


def waker_role(aws: SeededStack) -> str:
    return aws.function_role("waker-function")


def waker(aws: SeededStack) -> tuple[WakerConfig, Clients]:
    config = WakerConfig.from_environment(aws.function_environment("waker-function"))
    credentials = aws.stand_in.credentials(waker_role(aws))
    names = ("ecs", "sqs", "cloudwatch", "scheduler", "rds", "ssm", "elbv2", "sns")
    return config, Clients(*(aws.stand_in.client(name, credentials) for name in names))


def report(aws: SeededStack, config: WakerConfig, at: datetime, next_due_in: float) -> None:
    data = [
        {"MetricName": name, "Timestamp": at, "Value": next_due_in if key == "seconds_until_next_due" else 0.0}
        for name, key in REPORTER_METRICS.items()
    ]
    aws.stand_in.client("cloudwatch").put_metric_data(Namespace=config.metric_namespace, MetricData=data)


def rule(aws: SeededStack, config: WakerConfig) -> dict:
    return aws.stand_in.client("elbv2").describe_rules(RuleArns=[config.listener_rule_arn])["Rules"][0]


def test_the_waker_through_a_day_with_its_declared_role(aws):
    config, clients = waker(aws)
    actions = rule(aws, config)["Actions"]
    assert actions[0]["Type"] == "authenticate-oidc"

    def tick(event, at):
        answer = handle(event, config=config, clients=clients, now=at, function_arn="arn:waker")
        assert answer.get("ok", True), answer
        return answer

    tick({"action": "tick"}, NOW)  # asleep with nothing due: the database is stopped
    database = aws.stand_in.client("rds").describe_db_instances(DBInstanceIdentifier=config.database_instance_id)
    assert database["DBInstances"][0]["DBInstanceStatus"] == "stopped"
    tick({"action": "wake", "holdMinutes": 30, "reason": "UI visit", "source": "visit"}, NOW + timedelta(minutes=1))
    woke = tick({"action": "tick"}, NOW + timedelta(minutes=2))
    assert woke["state"] == "waking" and woke["desired"]["scheduler"] == 1
    aws.stand_in.client("elbv2").register_targets(
        TargetGroupArn=config.api_target_group_arn, Targets=[{"Id": "10.40.0.10", "Port": 8080}]
    )
    assert tick({"action": "tick"}, NOW + timedelta(minutes=5))["uiRoute"] == "airflow"
    stale = tick({"action": "tick"}, NOW + timedelta(minutes=14))  # past the boot grace, no report yet
    assert stale["signals"]["reporterStale"], "told on the alarm topic (sns:Publish)"
    report(aws, config, NOW + timedelta(minutes=50), next_due_in=6 * 3600)
    assert tick({"action": "tick"}, NOW + timedelta(minutes=50.5))["state"] == "awake", "idle, not yet asleep"
    report(aws, config, NOW + timedelta(minutes=61), next_due_in=6 * 3600)
    asleep = tick({"action": "tick"}, NOW + timedelta(minutes=61.5))
    assert asleep["state"] == "asleep" and asleep["nextWakeAt"], asleep["reason"]
    assert asleep["uiRoute"] == "waking-page"
    # Asleep and still, it switches its minute tick off (GetSchedule, UpdateSchedule with iam:PassRole).
    tick({"action": "tick"}, NOW + timedelta(minutes=63))
    tick_schedule = aws.stand_in.client("scheduler").get_schedule(
        GroupName=config.schedule_group, Name=config.tick_schedule
    )
    assert tick_schedule["State"] == "DISABLED"

    role = waker_role(aws)
    assert refusals(aws, role) == []
    used = aws.stand_in.calls_by(role)
    assert {
        "ecs:DescribeServices",
        "ecs:UpdateService",
        "rds:StopDBInstance",
        "rds:StartDBInstance",
        "scheduler:CreateSchedule",  # with iam:PassRole, conditioned on the scheduler as the service
        "scheduler:UpdateSchedule",  # the minute tick switched off
        "elasticloadbalancing:ModifyRule",
        "ssm:PutParameter",
        "ssm:DeleteParameter",  # the lease
        "monitoring:PutMetricData",  # conditioned on the stack's namespace
        "monitoring:GetMetricData",
        "sqs:GetQueueAttributes",
        "sns:Publish",  # its notice of the silent reporter
    } <= used
    assert rule(aws, config)["Actions"] == actions, "the authentication in front of the UI is untouched"


@pytest.fixture
def fresh_aws(tmp_path, recordings):
    """A stand-in of its own: this test's clock runs from now, before the day above."""
    with running_stand_in(tmp_path) as stand_in:
        yield seed(stand_in, recordings["existing-vpc-oidc"])


def test_the_waker_parks_stale_broker_messages_with_its_declared_role(fresh_aws):
    """The broker's messages, judged against the run's clock: first younger than task_queued_timeout (put
    back: ChangeMessageVisibilityBatch), then older (moved to the dead-letter queue: ReceiveMessage,
    SendMessage on the dead-letter queue, DeleteMessage)."""
    config, clients = waker(fresh_aws)
    sqs = fresh_aws.stand_in.client("sqs")
    for n in range(3):
        sqs.send_message(QueueUrl=config.broker_queue_url, MessageBody=json.dumps({"task": n}))
    timeout = timedelta(seconds=config.settings.task_queued_timeout_seconds)
    sent = datetime.now(UTC)
    for at, parked in ((sent + timeout - timedelta(minutes=2), 0), (sent + timeout + timedelta(minutes=10), 3)):
        handle({"action": "wake", "holdMinutes": 0, "reason": "test"}, **run(config, clients, at))
        report(fresh_aws, config, at + timedelta(seconds=30), next_due_in=6 * 3600)
        answer = handle({"action": "tick"}, **run(config, clients, at + timedelta(seconds=40)))
        assert answer.get("ok", True), answer
        depth = sqs.get_queue_attributes(
            QueueUrl=config.broker_parking_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert int(depth["Attributes"]["ApproximateNumberOfMessages"]) == parked
    assert refusals(fresh_aws, waker_role(fresh_aws)) == []
    used = fresh_aws.stand_in.calls_by(waker_role(fresh_aws))
    assert {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibilityBatch", "sqs:SendMessage", "sqs:DeleteMessage"} <= used


def run(config: WakerConfig, clients: Clients, at: datetime) -> dict:
    return {"config": config, "clients": clients, "now": at, "function_arn": "arn:waker"}


def test_the_old_rule_switch_is_refused_as_aws_refuses_it(aws):
    """Regression: the waker sent the rule's OIDC action back without its client secret (or
    UseExistingClientSecret); ModifyRule refuses that, so every tick failed before it saved its state."""
    config, clients = waker(aws)
    kept = [
        {k: v for k, v in a.items() if k in ("Type", "Order", "AuthenticateOidcConfig", "TargetGroupArn")}
        for a in rule(aws, config)["Actions"]
    ]
    for action in kept:
        action.get("AuthenticateOidcConfig", {}).pop("ClientSecret", None)
    with pytest.raises(ClientError) as refused:
        clients.elbv2.modify_rule(RuleArn=config.listener_rule_arn, Actions=kept)
    assert "UseExistingClientSecret" in str(refused.value)


def test_a_visit_asks_the_waker_which_runs_as_its_own_role(aws):
    page_role = aws.function_role("waking-page-function")
    page = aws.stand_in.client_as(page_role, "lambda")
    env = aws.function_environment("waking-page-function")
    since = time.time()

    def ask(payload: dict) -> dict:
        # As the page's own handler asks: synchronously, with the page's role.
        response = page.invoke(FunctionName=env["WAKER_FUNCTION"], Payload=json.dumps(payload).encode())
        return json.loads(response["Payload"].read())

    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    navigation = {"accept": "text/html", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    answer = waking_page.handle(
        {"path": "/home", "httpMethod": "GET", "headers": {**navigation, "user-agent": chrome}},
        now=datetime.now(UTC),
        env=env,
        ask=ask,
    )
    assert answer["statusCode"] == 503 and "Your visit woke it" in answer["body"]
    invoked = [e for e in aws.stand_in.audit() if e["principal"] == page_role and e["at"] >= since]
    assert [e["operation"] for e in invoked] == ["lambda:Invoke"] and invoked[0]["allowed"]
    assert "ecs:UpdateService" in aws.stand_in.calls_by(waker_role(aws)), "the real waker ran and woke the stack"
    assert refusals(aws, page_role) == [] and refusals(aws, waker_role(aws)) == []


class MigrationExitsAtOnce:
    """ECS as the migration task leaves it when `airflow db migrate` exits 0 at once: the stand-in keeps a task
    RUNNING until told how it ended, as ECS does until the task's essential container exits."""

    def __init__(self, ecs: Any, stand_in: Any) -> None:
        self.ecs, self.stand_in = ecs, stand_in

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        answer = self.ecs.run_task(**kwargs)
        for task in answer.get("tasks", []):
            self.stand_in.stop_one_off(task["taskArn"], "migrate", 0, "Essential container in task exited")
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ecs, name)


def test_the_migration_runner_with_its_declared_role(aws):
    role = aws.function_role("airflow-migration-runner")
    env = aws.function_environment("airflow-migration-runner")
    env["SUBNETS"], env["SECURITY_GROUPS"] = ",".join(aws.subnets), aws.security_group
    config = migrator.RunnerConfig.from_environment(env)
    credentials = aws.stand_in.credentials(role)
    task_definition = aws.substitute(
        aws.recording.one("aws:ecs/taskDefinition:TaskDefinition", "airflow-migration-task").outputs["arn"]
    )
    result = migrator.migrate(
        {"taskDefinitionArn": task_definition},
        config=config,
        ecs=MigrationExitsAtOnce(aws.stand_in.client("ecs", credentials), aws.stand_in),
        rds=aws.stand_in.client("rds", credentials),
        ssm=aws.stand_in.client("ssm", credentials),
        lambda_client=aws.stand_in.client("lambda", credentials),
        seconds_left=lambda: 900,
        sleep=lambda _: None,
    )
    assert result["status"] == "migrated" and result["oldVersion"] == "asleep"  # the waker held it, synchronously
    assert refusals(aws, role) == []
    assert "lambda:Invoke" in {e["operation"] for e in aws.stand_in.audit() if e["principal"] == role}  # the hold
    # RunTask passes both task roles, allowed only to ECS tasks (iam:PassedToService) on this cluster (ecs:cluster).
    audit = [e for e in aws.stand_in.audit() if e["principal"] == role and e["operation"] == "ecs:RunTask"]
    passed = [c for c in audit[-1]["checks"] if c["action"] == "iam:PassRole"]
    assert len(passed) == 2 and all(c["allowed"] for c in passed)


def test_the_operator_command_with_the_operator_policy(aws, capsys):
    iam = aws.stand_in.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="platform-operator", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName="platform-operator", PolicyArn=aws.export("operatorPolicyArn"))
    credentials = aws.stand_in.credentials("platform-operator")
    outputs = aws.outputs()

    def make_stack(name: str, outputs_file: Path | None) -> operations.Stack:
        def client(service: str):
            return aws.stand_in.client(service, credentials)

        return operations.Stack(
            StackOutputs.of(name, outputs),
            client,
            operations.lambda_invoker(client("lambda"), outputs["wakerFunction"]),
        )

    assert cli.run(["status", "--stack", "dev", "--json"], make_stack=make_stack) == 0
    assert json.loads(capsys.readouterr().out)["stack"] == "dev"
    assert cli.run(["wake", "--stack", "dev", "--hold", "30m"], make_stack=make_stack) == 0
    assert cli.run(["sleep", "--stack", "dev", "--force", "--hold", "10m"], make_stack=make_stack) == 0
    assert cli.run(["snapshot", "--stack", "dev"], make_stack=make_stack) == 0
    assert refusals(aws, "platform-operator") == []
    assert {
        "lambda:Invoke",
        "rds:DescribeDBInstances",
        "ssm:GetParameter",
        "rds:CreateDBSnapshot",
    } <= aws.stand_in.calls_by("platform-operator")


def test_a_burst_of_dag_changes_with_the_waker_declared_role(fresh_aws):
    """The first change claims the burst (ssm:PutParameter on the DAG-change marker), the next finds the claim
    (ssm:GetParameter): both allowed by the role the program declares."""
    config, clients = waker(fresh_aws)
    change = {"action": "wake", "holdMinutes": 10, "reason": "DAG bundle changed", "source": "change"}
    first = handle(change, **run(config, clients, NOW))
    second = handle(change, **run(config, clients, NOW + timedelta(seconds=5)))
    assert first["ok"] and "coalesced" not in first and second.get("coalesced") is True
    assert refusals(fresh_aws, waker_role(fresh_aws)) == []


def test_without_a_load_balancer_the_waker_reads_the_api_server_log_and_no_other(tmp_path_factory, recordings):
    """Dev has no load balancer: the waker learns of UI use from the api-server's access log. Its declared role
    may filter that log group's events (FilterLogEvents is authorised on the log group), and no other's."""
    from lambdas.waker.adapters import logs as waker_logs

    with running_stand_in(tmp_path_factory.mktemp("stand-in-dev")) as stand_in:
        dev = seed(stand_in, recordings["dev"])
        config = WakerConfig.from_environment(dev.function_environment("waker-function"))
        assert config.api_server_log_group and not config.load_balancer
        role = dev.function_role("waker-function")
        logs = stand_in.client("logs", stand_in.credentials(role))
        stand_in.client("logs").create_log_stream(logGroupName=config.api_server_log_group, logStreamName="s")
        line = (
            "2026-12-06T08:29:01Z [info     ] request finished [http.access] method=GET path=/ui/dags status_code=200"
        )
        stand_in.client("logs").put_log_events(
            logGroupName=config.api_server_log_group,
            logStreamName="s",
            logEvents=[{"timestamp": int(NOW.timestamp() * 1000), "message": line}],
        )
        assert waker_logs.ui_requests(logs, config.api_server_log_group, NOW + timedelta(minutes=1), 5) == 1
        assert [e["why"] for e in stand_in.refusals() if e["principal"] == role] == []
        scheduler_logs = config.api_server_log_group.replace("api-server", "scheduler")
        with pytest.raises(ClientError, match="AccessDenied"):
            waker_logs.ui_requests(logs, scheduler_logs, NOW, 5)
