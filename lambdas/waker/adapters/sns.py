"""SNS: the waker's own notices on the stack's alarm topic."""

from __future__ import annotations

from typing import Any


def notify(sns: Any, topic_arn: str, subject: str, message: str) -> str:
    return sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)["MessageId"]
