"""AWS clients of the operator commands, each bounded in time: a connection in 5 s, an answer in 30 s (70 s from
the waker, whose own limit is 60 s), with the SDK's standard retries; past that, the command says so in one line
(exit 4)."""

from __future__ import annotations

from typing import Any

AWS_TIMEOUTS: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 30,
    "retries": {"mode": "standard", "max_attempts": 3},
}
WAKER_READ_TIMEOUT = 70


def client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    read = WAKER_READ_TIMEOUT if service == "lambda" else AWS_TIMEOUTS["read_timeout"]
    return boto3.client(service, region_name=region, config=Config(**{**AWS_TIMEOUTS, "read_timeout": read}))
