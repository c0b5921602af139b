"""The waker: a Lambda that brings Airflow up when there is work and back to zero when there is none.

Wired here: the function (code from lambdas/waker; one run at a time through its lease, not reserved
concurrency, which new accounts cannot spare), its role scoped to this stack's
cluster, services, queues, schedule, metrics, state parameter and database; a tick every minute and the
wake windows on EventBridge Scheduler; a wake on DAG bundle changes; the alarm topic (the waker's own
notices go there too), alarms on waker errors and a silent waker; and, if asked for, a dashboard. The
documents these are made from are in components/waker_documents.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from contracts.stacks import component_log_group, waker_function_name
from contracts.waker import (
    NEXT_DUE_WAKE,
    TICK,
    WATCH,
    Tick,
    Wake,
    WakerVariable,
    dag_change_parameter,
    lease_parameters,
    schedule_name,
    to_event,
)
from infra import iam_policies
from infra.airflow_env import DAGS_PREFIX
from infra.components.python_lambda import lambda_log_group, python_lambda
from infra.components.roles import service_role
from infra.components.waker_documents import (
    alarm_key_policy,
    dashboard_body,
    lambda_settings,
    queue_url_of,
    waker_policy,
)
from infra.settings import window_schedule_name
from infra.stack_context import StackContext

TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class WakerArgs:
    context: StackContext
    cluster_name: pulumi.Input[str]
    service_names: Mapping[str, pulumi.Input[str]]
    broker_queue_url: pulumi.Input[str]
    broker_queue_arn: pulumi.Input[str]
    broker_queue_name: pulumi.Input[str]
    # The broker's dead-letter queue, where the waker parks stale messages (lambdas/waker/adapters/sqs.py).
    broker_parking_queue_url: pulumi.Input[str]
    broker_parking_queue_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    database_identifier: pulumi.Input[str]
    database_arn: pulumi.Input[str]
    load_balancer_arn_suffix: pulumi.Input[str] | None
    target_group_arn_suffix: pulumi.Input[str] | None
    api_target_group_arn: pulumi.Input[str] | None = None
    listener_rule_arn: pulumi.Input[str] | None = None  # the waking page's rule (wake on visit)


class Waker(pulumi.ComponentResource):
    def __init__(self, name: str, args: WakerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:waker:Waker", name, None, opts)
        context = args.context
        settings = context.settings
        waker = settings.waker
        child = pulumi.ResourceOptions(parent=self)
        function_name = waker_function_name(context.name)
        one_time_wake = schedule_name(context.name, NEXT_DUE_WAKE)

        group = aws.scheduler.ScheduleGroup(f"{name}-schedules", name=context.name, opts=child)
        state = aws.ssm.Parameter(
            f"{name}-state",
            name=f"/{context.name}/waker/state",
            type="String",
            value="{}",
            description=f"{context.name}: the waker's memory between invocations",
            # The waker writes this parameter; `pulumi up` leaves its value alone.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
        )
        # Created and deleted by each waker run (adapters/lease.py), never by `pulumi up`.
        lease_parameter = f"/{context.name}/waker/lease"
        lease_arns = [context.arn("ssm", f"parameter{p}") for p in lease_parameters(lease_parameter)]
        # The marker of the last DAG change acted on (adapters/change.py), written by the waker too.
        waker_parameters = [*lease_arns, context.arn("ssm", f"parameter{dag_change_parameter(context.name)}")]
        logs = lambda_log_group(f"{name}-logs", context, function_name, self)

        function_arn = context.arn("lambda", f"function:{function_name}")
        scheduler_role = service_role(
            f"{name}-scheduler",
            context,
            service="scheduler",
            description="EventBridge Scheduler invokes the waker",
            parent=self,
            policy=json.dumps(iam_policies.policy(iam_policies.allow(["lambda:InvokeFunction"], [function_arn]))),
        )

        # CloudWatch cannot publish to a topic encrypted with the AWS-managed aws/sns key (its policy does not
        # admit CloudWatch), so an encrypted topic needs a key of its own: a choice, at $2 a month with rotation.
        alarm_key = None
        if waker.alarm_topic_key == "customer":
            alarm_key = aws.kms.Key(
                f"{name}-alarms-key",
                description=f"{context.name}: encrypts the alarm topic",
                enable_key_rotation=True,
                deletion_window_in_days=7 if settings.secrets.recovery_window_days == 0 else 30,
                policy=json.dumps(alarm_key_policy(context)),
                opts=child,
            )
        self.alarm_topic = aws.sns.Topic(
            f"{name}-alarms",
            name=f"{context.name}-alarms",
            kms_master_key_id=alarm_key.arn if alarm_key else None,
            opts=child,
        )
        for index, email in enumerate(waker.alarm_emails):
            aws.sns.TopicSubscription(
                f"{name}-alarm-email-{index}",
                topic=self.alarm_topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )

        event_queue_arns = list(waker.event_queue_arns)
        # Without a load balancer, UI use shows only in the api-server's own access log (lambdas/waker/ui_activity.py).
        api_server_log_group = (
            None if args.load_balancer_arn_suffix else component_log_group(context.name, "api-server")
        )
        service_names = list(args.service_names.values())
        role = service_role(
            f"{name}-function",
            context,
            service="lambda",
            description="the waker",
            parent=self,
            policy=pulumi.Output.all(
                args.cluster_name,
                args.broker_queue_arn,
                scheduler_role.arn,
                state.arn,
                args.database_arn,
                logs.arn,
                args.listener_rule_arn or "",
                self.alarm_topic.arn,
                alarm_key.arn if alarm_key else "",
                args.broker_parking_queue_arn,
                *service_names,
            ).apply(
                lambda v: json.dumps(
                    waker_policy(
                        context,
                        cluster_name=v[0],
                        service_names=v[10:],
                        queue_arns=[v[1], *event_queue_arns],
                        broker_queue_arn=v[1],
                        parking_queue_arn=v[9],
                        schedule_group=context.name,
                        one_time_wake=one_time_wake,
                        tick_schedule=schedule_name(context.name, TICK),
                        scheduler_role_arn=v[2],
                        state_parameter_arn=v[3],
                        run_parameter_arns=waker_parameters,
                        database_arn=v[4],
                        log_group_arn=v[5],
                        listener_rule_arn=v[6] or None,
                        alarm_topic_arn=v[7],
                        alarm_key_arn=v[8] or None,
                        api_server_log_group_arn=context.arn("logs", f"log-group:{api_server_log_group}")
                        if api_server_log_group
                        else None,
                    )
                )
            ),
        )

        waker_settings = pulumi.Output.all(**dict(args.service_names)).apply(
            lambda services: lambda_settings(settings, services).to_json()
        )
        self.function = python_lambda(
            f"{name}-function",
            context,
            parent=self,
            function_name=function_name,
            package="waker",
            description="Brings Airflow up when there is work and back to zero when there is none",
            role_arn=role.arn,
            log_group=logs,
            timeout=TIMEOUT_SECONDS,
            memory_size=256,
            environment={
                variable.value: value
                for variable, value in {
                    WakerVariable.STACK: context.name,
                    WakerVariable.CLUSTER: args.cluster_name,
                    WakerVariable.WAKER_SETTINGS: waker_settings,
                    WakerVariable.BROKER_QUEUE_URL: args.broker_queue_url,
                    WakerVariable.BROKER_PARKING_QUEUE_URL: args.broker_parking_queue_url,
                    WakerVariable.EVENT_QUEUE_URLS: json.dumps([queue_url_of(a) for a in event_queue_arns]),
                    WakerVariable.METRIC_NAMESPACE: context.metric_namespace,
                    WakerVariable.SCHEDULE_GROUP: group.name,
                    WakerVariable.SCHEDULER_ROLE_ARN: scheduler_role.arn,
                    WakerVariable.STATE_PARAMETER: state.name,
                    WakerVariable.LEASE_PARAMETER: lease_parameter,
                    WakerVariable.DB_INSTANCE_ID: args.database_identifier,
                    WakerVariable.LOAD_BALANCER: args.load_balancer_arn_suffix or "",
                    WakerVariable.TARGET_GROUP: args.target_group_arn_suffix or "",
                    WakerVariable.LISTENER_RULE_ARN: args.listener_rule_arn or "",
                    WakerVariable.API_TARGET_GROUP_ARN: (args.api_target_group_arn or "")
                    if args.listener_rule_arn
                    else "",
                    WakerVariable.API_SERVER_LOG_GROUP: api_server_log_group or "",
                    WakerVariable.ALARM_TOPIC_ARN: self.alarm_topic.arn,
                    WakerVariable.TICK_SCHEDULE: schedule_name(context.name, TICK),
                }.items()
            },
        )

        def schedule(
            key: str, expression: str, event: dict[str, Any], timezone: str = "UTC", ignore: Sequence[str] = ()
        ) -> None:
            aws.scheduler.Schedule(
                f"{name}-{key}",
                name=schedule_name(context.name, key),
                group_name=group.name,
                schedule_expression=expression,
                schedule_expression_timezone=timezone,
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=self.function.arn,
                    role_arn=scheduler_role.arn,
                    input=json.dumps(event),
                    retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                        maximum_event_age_in_seconds=300, maximum_retry_attempts=2
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=list(ignore)),
            )

        # The waker switches the minute tick off while asleep and still, and on again (waker/metering.py);
        # `pulumi up` leaves that state alone. The hourly watch runs whatever the tick's state.
        schedule(TICK, "rate(1 minute)", to_event(Tick()), ignore=["state"])
        schedule(WATCH, "rate(1 hour)", to_event(Tick()))
        for window in waker.windows:
            schedule(
                window_schedule_name(settings.stack, window.name).removeprefix(f"{context.name}-"),
                window.cron,
                to_event(Wake(hold_minutes=window.duration_minutes, reason=f"window {window.name}")),
                window.timezone,
            )

        if waker.wake_on_dag_change:
            rule = aws.cloudwatch.EventRule(
                f"{name}-dag-change",
                name=f"{context.name}-dag-change",  # the stack's name: a deploying role is limited to its own
                description=f"{context.name}: a DAG bundle change wakes Airflow to parse it",
                event_pattern=pulumi.Output.from_input(args.bucket_name).apply(
                    lambda bucket: json.dumps(
                        {
                            "source": ["aws.s3"],
                            "detail-type": ["Object Created", "Object Deleted"],
                            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": DAGS_PREFIX}]}},
                        }
                    )
                ),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-dag-change",
                rule=rule.name,
                arn=self.function.arn,
                input=json.dumps(
                    to_event(
                        Wake(hold_minutes=waker.dag_change_hold_minutes, reason="DAG bundle changed", source="change")
                    )
                ),
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-dag-change",
                action="lambda:InvokeFunction",
                function=self.function.name,
                principal=context.service_principal("events"),
                source_arn=rule.arn,
                opts=child,
            )

        def alarm(key: str, description: str, **metric: Any) -> None:
            aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                name=f"{context.name}-{key}",
                alarm_description=description,
                alarm_actions=[self.alarm_topic.arn],
                ok_actions=[self.alarm_topic.arn],
                **metric,
                opts=child,
            )

        alarm(
            "waker-errors",
            "The waker failed: Airflow may not wake or sleep as it should. See its log group.",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function_name},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
        )
        # Two clock hours in a row without a run: the hourly watch, a few seconds late, can leave one hour empty
        # (a run at 10:59:59 and the next at 12:00:01); one empty hour alone would flap the alarm.
        alarm(
            "waker-silent",
            "The waker has not run for two clock hours in a row (asleep it runs at least hourly, awake every "
            "minute): check its schedules and the account's Lambda concurrency.",
            namespace="AWS/Lambda",
            metric_name="Invocations",
            dimensions={"FunctionName": function_name},
            statistic="Sum",
            period=3600,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
        )
        self.dashboard = None
        if waker.dashboard:
            self.dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard",
                dashboard_name=context.name,
                dashboard_body=pulumi.Output.from_input(args.broker_queue_name).apply(
                    lambda queue: dashboard_body(context, function_name, queue, f"/aws/lambda/{function_name}")
                ),
                opts=child,
            )
        self.function_name = self.function.name
        self.register_outputs(
            {
                "function": self.function.name,
                "alarmTopic": self.alarm_topic.arn,
                "dashboard": self.dashboard.dashboard_name if self.dashboard else "",
            }
        )
