"""The Celery broker: an SQS queue (encrypted) with a dead-letter queue.

Celery on SQS keeps a task's message in flight until the task finishes (late acks), so the visibility
timeout must be longer than the longest task; a message received too often goes to the dead-letter queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import iam_policies
from infra.stack_context import StackContext

MAX_RECEIVES = 5
FOURTEEN_DAYS = 14 * 24 * 3600


@dataclass(frozen=True)
class BrokerArgs:
    context: StackContext


class Broker(pulumi.ComponentResource):
    def __init__(self, name: str, args: BrokerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:broker:Broker", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)

        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dead-letter",
            name=f"{context.name}-celery-dead-letter",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=FOURTEEN_DAYS,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=f"{context.name}-celery",
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=context.settings.broker_visibility_timeout_seconds,
            message_retention_seconds=FOURTEEN_DAYS,
            receive_wait_time_seconds=10,
            redrive_policy=self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVES})
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-tls-only",
            queue_url=self.queue.url,
            policy=self.queue.arn.apply(lambda arn: json.dumps(iam_policies.deny_insecure_transport("sqs", [arn]))),
            opts=child,
        )
        self.queue_url = self.queue.url
        self.queue_arn = self.queue.arn
        self.queue_name = self.queue.name
        self.dead_letter_queue_url = self.dead_letter_queue.url
        self.dead_letter_queue_arn = self.dead_letter_queue.arn
        self.register_outputs({"queueUrl": self.queue_url, "deadLetterQueueUrl": self.dead_letter_queue.url})
