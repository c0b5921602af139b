"""The waker's documents, as pure functions of plain values: its IAM policy, the settings it is given, the
alarm topic key's policy and the dashboard's body. components/waker.py creates the resources from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from contracts import metrics
from contracts.waker import WakerSettings, WakerTuning
from infra import iam_policies
from infra.settings import Settings
from infra.stack_context import StackContext


def queue_url_of(arn: str) -> str:
    """The SQS queue URL of a queue ARN (the waker reads queue depth by URL)."""
    _, _, _, region, account, name = arn.split(":", 5)
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def waker_policy(
    context: StackContext,
    *,
    cluster_name: str,
    service_names: Sequence[str],
    queue_arns: Sequence[str],
    broker_queue_arn: str,
    parking_queue_arn: str,
    schedule_group: str,
    one_time_wake: str,
    tick_schedule: str,
    scheduler_role_arn: str,
    state_parameter_arn: str,
    run_parameter_arns: Sequence[str],
    database_arn: str,
    log_group_arn: str,
    listener_rule_arn: str | None,
    alarm_topic_arn: str,
    alarm_key_arn: str | None = None,
    api_server_log_group_arn: str | None = None,
) -> dict[str, Any]:
    settings = context.settings.waker
    return iam_policies.policy(
        iam_policies.allow(
            ["ecs:DescribeServices", "ecs:UpdateService"],
            [context.arn("ecs", f"service/{cluster_name}/{name}") for name in service_names],
        ),
        iam_policies.allow(["sqs:GetQueueAttributes"], list(queue_arns)),
        # Stale broker messages (their tasks failed by task_queued_timeout) moved to the dead-letter queue.
        iam_policies.allow(
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], [broker_queue_arn]
        ),
        iam_policies.allow(["sqs:SendMessage"], [parking_queue_arn]),
        iam_policies.allow(["cloudwatch:GetMetricData"], ["*"]),
        iam_policies.publish_metrics(context.metric_namespace),
        iam_policies.allow(
            [
                "scheduler:GetSchedule",
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "scheduler:DeleteSchedule",
            ],
            [context.arn("scheduler", f"schedule/{schedule_group}/{one_time_wake}")],
        ),
        # The minute tick, switched off while asleep and still and on again.
        iam_policies.allow(
            ["scheduler:GetSchedule", "scheduler:UpdateSchedule"],
            [context.arn("scheduler", f"schedule/{schedule_group}/{tick_schedule}")],
        ),
        iam_policies.allow(
            ["iam:PassRole"],
            [scheduler_role_arn],
            {"StringEquals": {"iam:PassedToService": context.service_principal("scheduler")}},
        ),
        iam_policies.allow(["ssm:GetParameter", "ssm:PutParameter"], [state_parameter_arn]),
        # The lease and its takeover guards (lambdas/waker/adapters/lease.py), each created and deleted by a run,
        # and the marker of the last DAG change acted on (adapters/change.py).
        iam_policies.allow(["ssm:DeleteParameter", "ssm:GetParameter", "ssm:PutParameter"], list(run_parameter_arns)),
        iam_policies.allow(
            ["rds:DescribeDBInstances", "rds:StartDBInstance", "rds:StopDBInstance"],
            [database_arn] if settings.stop_database else [],
        ),
        iam_policies.allow(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:log-stream:*"]),
        # Wake on visit: read the api-server's health, switch the waking page's rule on and off.
        iam_policies.allow(
            ["elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetHealth"],
            ["*"] if listener_rule_arn else [],
        ),
        iam_policies.allow(["elasticloadbalancing:ModifyRule"], [listener_rule_arn] if listener_rule_arn else []),
        # Without a load balancer: the api-server's access log, read for UI use. FilterLogEvents is authorised on
        # the log group (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
        iam_policies.allow(
            ["logs:FilterLogEvents"],
            [api_server_log_group_arn, f"{api_server_log_group_arn}:*"] if api_server_log_group_arn else [],
        ),
        # Its notices (waker/notices.py); publishing to a topic under a customer key needs the key too
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
        iam_policies.allow(["sns:Publish"], [alarm_topic_arn]),
        iam_policies.allow(["kms:GenerateDataKey", "kms:Decrypt"], [alarm_key_arn] if alarm_key_arn else []),
    )


def lambda_settings(settings: Settings, services: Mapping[str, str]) -> WakerSettings:
    """The waker Lambda's settings (its WAKER_SETTINGS), from the stack's; the cost simulator uses them too."""
    waker = settings.waker
    return WakerSettings(
        **{f.name: getattr(waker, f.name) for f in fields(WakerTuning)},
        services=dict(services),
        worker_concurrency=settings.services.worker_concurrency,
        # The image this project builds protects busy workers from scale-in; a stack's own image may not.
        scale_in_protection=settings.image.uri is None,
        start_limit_minutes=waker.boot_grace_minutes + 5,
    )


def alarm_key_policy(context: StackContext) -> dict[str, Any]:
    """The account administers the key; CloudWatch may use it to publish alarms to the encrypted topic."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{context.partition}:iam::{context.account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchPublishesAlarms",
                "Effect": "Allow",
                "Principal": {"Service": context.service_principal("cloudwatch")},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": context.account_id}},
            },
        ],
    }


def dashboard_body(context: StackContext, function_name: str, queue_name: str, log_group: str) -> str:
    namespace = context.metric_namespace
    region = context.region

    def metric_widget(title: str, metrics: list[list[Any]], x: int, y: int, stat: str = "Maximum") -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": 60, "metrics": metrics},
        }

    widgets = [
        metric_widget(
            "Awake (1) or asleep (0), and workers",
            # Asleep, the waker publishes nothing (no custom-metric hours billed): the gaps read as 0.
            [
                [{"expression": "FILL(awake, 0)", "label": "awake", "id": "awakefilled"}],
                [{"expression": "FILL(workers, 0)", "label": "workers", "id": "workersfilled"}],
                [namespace, metrics.WAKER_AWAKE, {"id": "awake", "visible": False}],
                [namespace, metrics.WAKER_DESIRED_WORKERS, {"id": "workers", "visible": False}],
            ],
            0,
            0,
        ),
        metric_widget(
            "Active work (activity reporter)",
            [
                [namespace, metrics.DAG_RUNS_QUEUED],
                [namespace, metrics.DAG_RUNS_RUNNING],
                [namespace, metrics.task_instances_metric("queued")],
                [namespace, metrics.task_instances_metric("running")],
                [namespace, metrics.DAGS_DUE],
            ],
            12,
            0,
        ),
        metric_widget(
            "Broker queue depth",
            [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name],
                ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", queue_name],
            ],
            0,
            6,
        ),
        metric_widget(
            "Waker: errors, scale changes",
            [
                ["AWS/Lambda", "Errors", "FunctionName", function_name, {"stat": "Sum"}],
                [namespace, metrics.WAKER_SCALE_CHANGES, {"stat": "Sum"}],
            ],
            12,
            6,
        ),
        {
            "type": "log",
            "x": 0,
            "y": 12,
            "width": 24,
            "height": 8,
            "properties": {
                "title": "Waker decisions",
                "region": region,
                "query": f"SOURCE '{log_group}' | fields @timestamp, action, mode, reason, changes "
                "| filter event in ['decision', 'refused', 'rejected'] | sort @timestamp desc | limit 100",
                "view": "table",
            },
        },
    ]
    return json.dumps({"widgets": widgets})
