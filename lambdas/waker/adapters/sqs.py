"""SQS: messages waiting and in flight on the broker and on the watched event queues, and the broker's stale
messages parked on its dead-letter queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

RECEIVE_BATCHES = 10  # at most 100 messages parked per run; the next run goes on
HIDDEN_SECONDS = 30  # how long a received message stays hidden if this run dies before putting it back


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


def park_stale(sqs: Any, queue_url: str, parking_url: str, *, sent_before: datetime) -> int:
    """Move the broker's messages sent before `sent_before` to `parking_url` (the broker's dead-letter queue),
    and put every younger one back at once. How many were parked.

    A message is sent before its copy is deleted, so a run that dies between the two leaves a duplicate on
    the dead-letter queue, never a loss. Younger messages stay hidden until the end of the run, so one run
    does not receive them twice (each receipt counts towards the queue's maxReceiveCount); they, and any this
    run failed to park, are made visible again however the run ends."""
    parked, held = 0, []
    try:
        for _ in range(RECEIVE_BATCHES):
            received = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=HIDDEN_SECONDS,
                WaitTimeSeconds=0,
                AttributeNames=["SentTimestamp"],  # (what every SDK the runtime may bundle takes)
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                break
            held += received
            for message in received:
                if _sent_at(message) >= sent_before:
                    continue
                sqs.send_message(
                    QueueUrl=parking_url,
                    MessageBody=message["Body"],
                    **({"MessageAttributes": message["MessageAttributes"]} if message.get("MessageAttributes") else {}),
                )
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                held.remove(message)
                parked += 1
    finally:
        for start in range(0, len(held), 10):
            batch = held[start : start + 10]
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(batch)
                ],
            )
    return parked


def _sent_at(message: dict[str, Any]) -> datetime:
    """When SQS received it; a message without a readable time counts as just sent (kept)."""
    try:
        return datetime.fromtimestamp(int(message["Attributes"]["SentTimestamp"]) / 1000, UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return datetime.max.replace(tzinfo=UTC)
