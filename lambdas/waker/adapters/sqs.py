"""SQS: messages waiting and in flight on the broker and on the watched event queues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages, as SQS approximates them."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def visible_messages(sqs: Any, queue_urls: Sequence[str]) -> tuple[int, tuple[str, ...]]:
    """Messages waiting on the watched event queues (in flight: an asset watcher already holds them), and the
    queues that do not exist (deleted by their owner): counted as empty and reported, not raised."""
    total, missing = 0, []
    for url in queue_urls:
        try:
            total += depth(sqs, url)[0]
        except sqs.exceptions.QueueDoesNotExist:
            missing.append(url)
    return total, tuple(missing)
