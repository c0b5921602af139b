"""Real Airflow 3 components making their real AWS calls, with IAM enforced as AWS enforces it.

The stand-in AWS (standin/) is seeded from the dev stack's recording, so every role has exactly the
policy the program declares. Each component runs as a process with its task definition's environment, its
secrets resolved with its execution role, and its task role's credentials: the DAG bundle (S3DagBundle),
remote task logs (S3RemoteLogIO: write, then read from the api-server), Celery's SQS broker (kombu, with the
predefined queue), the Secrets Manager backend, and the activity reporter. Every call is checked against the
role's policies with conditions evaluated (moto alone ignores both), then the observable state is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.components.database import connection_document
from rehearsal.ecs_tasks import container, process_environment
from standin.seed import seed
from standin.stand_in import running_stand_in

DAG = "from airflow.sdk import dag\n\n@dag(schedule=None)\ndef probe():\n    pass\n\nprobe()\n"
OLD_LISTING = {"StringLike": {"s3:prefix": ["dags/", "dags/*", "logs/", "logs/*"]}}


@pytest.fixture(scope="module")
def aws(tmp_path_factory, recordings, airflow_database):
    database = connection_document(
        airflow_database.user,
        airflow_database.password,
        airflow_database.host,
        airflow_database.port,
        airflow_database.dbname,
    )
    with running_stand_in(tmp_path_factory.mktemp("stand-in")) as stand_in:
        seeded = seed(stand_in, recordings["dev"], database_connection=database)
        admin = stand_in.client
        bucket = seeded.export("dagBucket")
        admin("s3").put_object(Bucket=bucket, Key="dags/probe.py", Body=DAG.encode())
        manager = admin("secretsmanager")
        manager.create_secret(Name="airflow-dev/connections/warehouse", SecretString="postgresql://wh:5432/sales")
        yield seeded


def probe(
    aws, tmp_path_factory, component: str, script: str, container_name: str | None = None, args: tuple[str, ...] = ()
) -> dict:
    task = container(aws, component, container_name)
    env = process_environment(aws, task, tmp_path_factory.mktemp(f"home-{component}"))
    command = [sys.executable, "-c", script, *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# A component's probes in one process of its own (one Airflow start for all of them): each script runs in a
# namespace of its own, in the order given, and its last printed line (or its traceback) is its answer alone.
BATCH = """
import contextlib, io, json, sys, traceback
answers = {}
for name, script in json.loads(sys.argv[1]).items():
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(script, name, "exec"), {"__name__": "__main__"})
        answers[name] = {"answer": json.loads(printed.getvalue().strip().splitlines()[-1])}
    except BaseException:
        answers[name] = {"error": traceback.format_exc()}
print(json.dumps(answers))
"""


def batch(aws, tmp_path_factory, component: str, scripts: dict[str, str]) -> dict[str, dict]:
    answers = probe(aws, tmp_path_factory, component, BATCH, args=(json.dumps(scripts),))
    return {name: answers[name] for name in scripts}


@pytest.fixture(scope="module")
def answers(aws, tmp_path_factory) -> dict[str, dict[str, dict]]:
    """What each component's probes answered, run in the order the calls depend on: the scheduler sends before
    the worker receives, the worker writes a task log before the api-server reads it."""
    plan = {
        "scheduler": {"send": SEND},
        "worker": {"bundle": BUNDLE, "write-log": WRITE_LOG, "receive": RECEIVE, "secrets": SECRETS},
        "triggerer": {"bundle": BUNDLE, "secrets": SECRETS},
        "dag-processor": {"bundle": BUNDLE},
        "api-server": {"read-log": READ_LOG},
    }
    return {component: batch(aws, tmp_path_factory, component, scripts) for component, scripts in plan.items()}


def answer(answers, component: str, name: str) -> dict:
    found = answers[component][name]
    assert "error" not in found, found.get("error")
    return found["answer"]


def refusals(aws, role: str) -> list[str]:
    return [e["why"] for e in aws.stand_in.refusals() if e["principal"] == role]


BUNDLE = """
import json
from airflow.dag_processing.bundles.manager import DagBundlesManager
bundle = DagBundlesManager().get_bundle("dags")
bundle.initialize()
print(json.dumps({"files": sorted(p.name for p in bundle.path.iterdir())}))
"""


@pytest.mark.parametrize("component", ["dag-processor", "triggerer", "worker"])
def test_the_dag_bundle_reads_the_bucket_with_each_readers_role(aws, answers, component):
    """Regression: HeadBucket is authorized as s3:ListBucket with no prefix; the prefix-conditioned grant
    refused it and no DAG was ever parsed."""
    assert answer(answers, component, "bundle")["files"] == ["probe.py"]
    role = aws.task_role(component)
    assert {"s3:HeadBucket", "s3:ListBucket", "s3:GetObject"} <= aws.stand_in.calls_by(role)
    assert refusals(aws, role) == []


def test_the_prefix_conditioned_listing_of_the_old_policy_stops_the_bundle(aws, answers, tmp_path_factory):
    # `answers`: the declared policy's probes are done before this one changes the policy.
    iam = aws.stand_in.client("iam")
    role = aws.task_role("dag-processor")
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    declared = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    old = json.loads(json.dumps(declared))
    for statement in old["Statement"]:
        if statement["Action"] == ["s3:ListBucket"]:
            statement["Condition"] = OLD_LISTING
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(old))
    try:
        task = container(aws, "dag-processor")
        env = process_environment(aws, task, tmp_path_factory.mktemp("home-old"))
        result = subprocess.run([sys.executable, "-c", BUNDLE], env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode != 0 and "does not exist" in result.stderr
        assert any("s3:ListBucket" in why and "no statement allows it" in why for why in refusals(aws, role))
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(declared))


LOG_PATH = "dag_id=probe/run_id=manual__2026-11-25/task_id=hello/attempt=1.log"
WRITE_LOG = f"""
import json, os, pathlib
from airflow.config_templates.airflow_local_settings import REMOTE_TASK_LOG
from airflow.configuration import conf
path = pathlib.Path(os.path.expanduser(conf.get("logging", "base_log_folder"))) / "{LOG_PATH}"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text("hello from the worker\\n")
REMOTE_TASK_LOG.upload("{LOG_PATH}")
print(json.dumps({{"io": type(REMOTE_TASK_LOG).__name__}}))
"""
READ_LOG = f"""
import json
from airflow.config_templates.airflow_local_settings import REMOTE_TASK_LOG
messages, logs = REMOTE_TASK_LOG.read("{LOG_PATH}", None)
print(json.dumps({{"messages": messages, "logs": logs}}))
"""


def test_a_task_log_is_written_by_the_worker_and_read_by_the_api_server(aws, answers):
    """Regression: writing a log first reads the (missing) key; without s3:ListBucket that is a 403, not a 404."""
    assert answer(answers, "worker", "write-log") == {"io": "S3RemoteLogIO"}
    bucket = aws.export("dagBucket")
    body = aws.stand_in.client("s3").get_object(Bucket=bucket, Key=f"logs/{LOG_PATH}")["Body"].read()
    assert body == b"hello from the worker\n"
    read = answer(answers, "api-server", "read-log")
    assert read["logs"] == ["hello from the worker\n"]
    assert refusals(aws, aws.task_role("worker")) == [] and refusals(aws, aws.task_role("api-server")) == []
    assert {"s3:GetObject", "s3:PutObject"} <= aws.stand_in.calls_by(aws.task_role("worker"))


SEND = """
import json
from airflow.providers.celery.executors.celery_executor_utils import app
with app.connection_for_write() as connection:
    queue = connection.SimpleQueue("default")
    queue.put({"probe": "from the scheduler"})
    queue.close()
print(json.dumps({"sent": True}))
"""
RECEIVE = """
import json
from airflow.providers.celery.executors.celery_executor_utils import app
with app.connection_for_read() as connection:
    queue = connection.SimpleQueue("default")
    message = queue.get(timeout=20)
    message.ack()
    queue.close()
print(json.dumps({"payload": message.payload}))
"""


def test_celery_on_sqs_the_scheduler_sends_and_the_worker_receives_and_deletes(aws, answers):
    assert answer(answers, "scheduler", "send") == {"sent": True}
    assert answer(answers, "worker", "receive") == {"payload": {"probe": "from the scheduler"}}
    # A missing sqs:DeleteMessage is silent with kombu: assert on the queue, not on the logs.
    queue_url = aws.export("brokerQueueUrl")
    attributes = aws.stand_in.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert "sqs:SendMessage" in aws.stand_in.calls_by(aws.task_role("scheduler"))
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= aws.stand_in.calls_by(aws.task_role("worker"))
    assert refusals(aws, aws.task_role("scheduler")) == [] and refusals(aws, aws.task_role("worker")) == []


SECRETS = """
import json
from airflow.configuration import initialize_secrets_backends
backend = initialize_secrets_backends()[0]
print(json.dumps({
    "backend": type(backend).__name__,
    "connection": backend.get_conn_value("warehouse"),
    "variable": backend.get_variable("not_set"),
}))
"""


@pytest.mark.parametrize("component", ["worker", "triggerer"])
def test_the_secrets_backend_reads_the_stacks_connections(aws, answers, component):
    found = answer(answers, component, "secrets")
    assert found == {
        "backend": "SecretsManagerBackend",
        "connection": "postgresql://wh:5432/sales",
        "variable": None,
    }
    assert refusals(aws, aws.task_role(component)) == []


# The reporter as its container runs it, publishing into the namespace its environment names; then, in the same
# process and with the same role, into another stack's namespace, which the grant's condition must refuse.
REPORT = """
import json, os
from datetime import UTC, datetime
import boto3
from botocore.exceptions import ClientError
from image import activity_reporter
cloudwatch = boto3.client("cloudwatch")
namespace = os.environ["AIRFLOW_ACTIVITY_NAMESPACE"]
values = activity_reporter.report_once(cloudwatch, namespace, datetime.now(UTC))
try:
    activity_reporter.report_once(cloudwatch, "Airflow/x", datetime.now(UTC))
    other = "published"
except ClientError as error:
    other = error.response["ResponseMetadata"]["HTTPStatusCode"]  # AWS's AccessDenied is a 403
print(json.dumps({"published": sorted(values), "namespace": namespace, "other_stacks": other}))
"""


def test_the_activity_reporter_publishes_into_the_stacks_namespace_only(aws, tmp_path_factory):
    """PutMetricData has no resource; the grant's cloudwatch:namespace condition is evaluated here."""
    role = aws.task_role("scheduler")
    before = len(refusals(aws, role))
    published = probe(aws, tmp_path_factory, "scheduler", REPORT, container_name="activity-reporter")
    assert "DagsDue" in published["published"]
    assert published["namespace"] != "Airflow/x"
    assert "monitoring:PutMetricData" in aws.stand_in.calls_by(role)
    # The same role may not publish into another stack's namespace: the one refusal is that call's.
    assert published["other_stacks"] == 403
    refused = refusals(aws, role)[before:]
    assert len(refused) == 1 and "cloudwatch:PutMetricData" in refused[0], refused
