"""What the stack gives DAG code: extra environment for every component, policies for where tasks run."""

from __future__ import annotations

import json

import pytest

from offline.recording import run_stack


def test_dag_settings_reach_every_component_and_dag_runners_get_their_policies():
    policy = "arn:aws-us-gov:iam::123456789012:policy/orders-lake-access"
    queue = "arn:aws-us-gov:sqs:us-gov-east-1:123456789012:orders-events"
    recording = run_stack(
        "dev",
        {
            "airflow:services": json.dumps({"environment": {"LAKE_BUCKET": "acme-lake"}, "workerPolicyArns": [policy]}),
            "airflow:waker": json.dumps({"eventQueueArns": [queue]}),
        },
    )
    for task in recording.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for container in json.loads(task.inputs["containerDefinitions"]):
            assert {"name": "LAKE_BUCKET", "value": "acme-lake"} in container["environment"], container["name"]
    attached = {
        a.name: a.inputs["policyArn"] for a in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {"airflow-worker-dag-access-0": policy, "airflow-triggerer-dag-access-0": policy}
    triggerer = json.loads(recording.one("aws:iam/rolePolicy:RolePolicy", "airflow-triggerer-task").inputs["policy"])
    consume = next(s for s in triggerer["Statement"] if "sqs:ReceiveMessage" in s["Action"])
    assert consume["Resource"] == [queue], "asset watchers in the triggerer consume the watched queues"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"environment": {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}}, "set by the stack itself"),
        ({"environment": {"lake-bucket": "x"}}, "upper-case"),
        ({"workerPolicyArns": ["arn:aws:iam::123456789012:policy/x"]}, "arn:aws-us-gov:iam"),
    ],
)
def test_bad_dag_settings_are_refused(bad, message):
    from infra.settings import load_settings
    from infra.settings.schema import SettingsError

    with pytest.raises(SettingsError, match=message):
        load_settings("dev", {"aws:region": "us-gov-east-1", "airflow:services": json.dumps(bad)})
