"""IAM policy documents for the stack's roles: pure functions of the ARNs they may touch.

Every statement names the stack's own resources. The only `"Resource": "*"` statements are for actions
that support no resource-level permissions (listed in `UNSCOPABLE_ACTIONS`, and checked by tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.airflow_env import DAGS_PREFIX, LOGS_PREFIX

# Actions for which IAM supports no resource-level scoping (AWS Service Authorization Reference).
UNSCOPABLE_ACTIONS = frozenset(
    {
        "ecr:GetAuthorizationToken",
        # ECS Exec's Session Manager channels, opened by the agent in the task
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
        "cloudwatch:GetMetricData",
        "cloudwatch:PutMetricData",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetHealth",
    }
)

Policy = dict[str, Any]


def policy(*statements: dict[str, Any]) -> Policy:
    return {"Version": "2012-10-17", "Statement": [s for s in statements if s]}


def allow(
    actions: Sequence[str],
    resources: Sequence[str],
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if not resources:
        return {}
    statement: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions), "Resource": sorted(resources)}
    if condition:
        statement["Condition"] = condition
    return statement


def publish_metrics(namespace: str) -> dict[str, Any]:
    """PutMetricData has no resources; the namespace condition keeps each stack to its own metrics."""
    return allow(["cloudwatch:PutMetricData"], ["*"], {"StringEquals": {"cloudwatch:namespace": namespace}})


def deny_insecure_transport(service: str, resources: Sequence[str]) -> Policy:
    """A resource policy refusing any request that does not use TLS."""
    return policy(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": f"{service}:*",
            "Resource": list(resources),
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def assume_role(service: str, account_id: str) -> Policy:
    """Trust policy for an AWS service principal, limited to this account (confused-deputy guard)."""
    return policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def task_execution(*, repository_arn: str, log_group_arn: str, secret_arns: Sequence[str]) -> Policy:
    """What ECS needs to start a component's task: pull its image, write its logs, read its secrets."""
    return policy(
        allow(["ecr:GetAuthorizationToken"], ["*"]),
        allow(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], [repository_arn]),
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:log-stream:*"]),
        allow(["secretsmanager:GetSecretValue"], list(secret_arns)),
    )


# What each Airflow component does with the stack's bucket and broker.
READS_DAGS = frozenset({"dag-processor", "worker", "triggerer"})
WRITES_LOGS = frozenset({"worker", "triggerer", "dag-processor"})
READS_LOGS = frozenset({"api-server", "worker", "triggerer", "dag-processor"})
SENDS_TASKS = frozenset({"scheduler", "worker"})
RECEIVES_TASKS = frozenset({"worker"})


EXEC_CHANNELS = tuple(sorted(a for a in UNSCOPABLE_ACTIONS if a.startswith("ssmmessages:")))


def airflow_task(
    component: str,
    *,
    bucket_arn: str,
    queue_arn: str,
    secrets_backend_arns: Sequence[str],
    metric_namespace: str,
    event_queue_arns: Sequence[str] = (),
    cluster_tasks_arn: str = "",
    exec_channels: bool = False,
) -> Policy:
    """What a component's own code may do: its share of the bucket and broker, the secrets backend, and (the
    scheduler's activity reporter) the stack's metrics.

    Listing the bucket has no prefix condition: HeadBucket (the DAG bundle's first call) is authorized as
    s3:ListBucket with no prefix, and a read of a missing key (a task log not yet written) answers 404
    rather than 403 only with s3:ListBucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html,
    API_HeadObject.html)."""
    readable = [p for p, who in ((DAGS_PREFIX, READS_DAGS), (LOGS_PREFIX, READS_LOGS)) if component in who]
    queue_actions = []
    if component in SENDS_TASKS:
        queue_actions += ["sqs:SendMessage"]
    if component in RECEIVES_TASKS:
        queue_actions += ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    if queue_actions:
        queue_actions += ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    return policy(
        allow(["s3:ListBucket"], [bucket_arn] if readable else []),
        allow(["s3:GetObject", "s3:GetObjectVersion"], [f"{bucket_arn}/{p}*" for p in readable]),
        allow(["s3:PutObject"], [f"{bucket_arn}/{LOGS_PREFIX}*"] if component in WRITES_LOGS else []),
        allow(queue_actions, [queue_arn] if queue_actions else []),
        allow(["secretsmanager:GetSecretValue"], list(secrets_backend_arns)),
        publish_metrics(metric_namespace) if component == "scheduler" else {},
        # A worker holding a task protects itself from scale-in through the ECS agent, which calls these
        # with the task role (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html).
        allow(
            ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"],
            [cluster_tasks_arn] if component == "worker" and cluster_tasks_arn else [],
        ),
        # Asset watchers run in the triggerer and consume the watched event queues.
        allow(
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
            list(event_queue_arns) if component == "triggerer" else [],
        ),
        # ECS Exec (`airflow-stack ui`): the agent ECS puts in the task opens its Session Manager channels with the
        # task role; these actions take no resource (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html).
        allow(EXEC_CHANNELS, ["*"] if exec_channels else []),
    )
