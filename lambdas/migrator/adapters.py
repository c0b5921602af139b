"""The AWS calls of the migration runner, each taking its boto3 client as an argument."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from contracts.waker import Maintenance, to_event


def database_status(rds: Any, instance_id: str) -> str:
    instances = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"]
    return instances[0]["DBInstanceStatus"]


def start_database(rds: Any, instance_id: str) -> None:
    rds.start_db_instance(DBInstanceIdentifier=instance_id)


def run_task(
    ecs: Any,
    *,
    cluster: str,
    task_definition: str,
    subnets: Sequence[str],
    security_groups: Sequence[str],
    assign_public_ip: bool,
    started_by: str,
    environment: dict[str, str] | None = None,
) -> str:
    overrides = (
        {
            "overrides": {
                "containerOverrides": [
                    {"name": "migrate", "environment": [{"name": k, "value": v} for k, v in environment.items()]}
                ]
            }
        }
        if environment
        else {}
    )
    response = ecs.run_task(
        cluster=cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        count=1,
        startedBy=started_by,
        **overrides,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(subnets),
                "securityGroups": list(security_groups),
                "assignPublicIp": "ENABLED" if assign_public_ip else "DISABLED",
            }
        },
    )
    if response.get("failures") or not response.get("tasks"):
        raise RuntimeError(f"ECS could not start the migration task: {response.get('failures')}")
    return response["tasks"][0]["taskArn"]


def end_maintenance(lambda_client: Any, function: str, reason: str) -> None:
    """Tell the waker a restored database has been guarded (a stack not yet woken has no waker: fine)."""
    with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(
            FunctionName=function,
            InvocationType="Event",
            Payload=json.dumps(to_event(Maintenance(on=False, reason=reason))).encode(),
        )


def ask_waker(lambda_client: Any, function: str, event: dict[str, Any]) -> dict[str, Any] | None:
    """The waker's answer to `event`, waited for; None where there is no waker yet (a first deploy: nothing of the
    stack runs). A failed run is an answer that is not ok, naming what the waker said."""
    try:
        response = lambda_client.invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
    except lambda_client.exceptions.ResourceNotFoundException:
        return None
    body = response["Payload"].read()
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        answer = None
    if response.get("FunctionError") or not isinstance(answer, dict):
        return {"ok": False, "error": f"the waker failed: {body[:300]!r}"}
    return answer


def record_outcome(ssm: Any, parameter: str, outcome: dict[str, str]) -> None:
    ssm.put_parameter(Name=parameter, Value=json.dumps(outcome), Type="String", Overwrite=True)


def describe_task(ecs: Any, *, cluster: str, task_arn: str) -> dict[str, Any]:
    tasks = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
    return tasks[0] if tasks else {"taskArn": task_arn, "lastStatus": "UNKNOWN"}
