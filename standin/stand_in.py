"""Start the stand-in AWS (standin/server.py) on loopback and talk to it as the admin or as a role."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config

from standin.identity import ADMIN_KEY, ADMIN_SECRET

REGION = "us-gov-east-1"
PARTITION = "aws-us-gov"
ACCOUNT = "123456789012"  # moto's default account; the offline plan's mock account too


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StandIn:
    endpoint: str
    audit_file: Path
    process: subprocess.Popen

    @property
    def ecs_running_file(self) -> Path:
        """Where the rehearsal's actuator writes the ECS services' running counts (service -> tasks)."""
        return self.audit_file.parent / "ecs-running.json"

    @property
    def ecs_stopped_file(self) -> Path:
        """Where whoever plays ECS writes how one-off tasks ended (task ARN -> container, exit code, reason)."""
        return self.audit_file.parent / "ecs-stopped.json"

    def stop_one_off(self, task_arn: str, container: str, exit_code: int, reason: str) -> None:
        """Record that a one-off task's essential container exited: DescribeTasks then shows it STOPPED."""
        path = self.ecs_stopped_file
        outcomes = json.loads(path.read_text()) if path.exists() else {}
        outcomes[task_arn] = {"container": container, "exitCode": exit_code, "reason": reason}
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(outcomes))
        partial.replace(path)  # read whole or not at all by the stand-in's process

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        """A boto3 client as the admin (seeding, checking) or with a role's credentials."""
        keys = credentials or {"AccessKeyId": ADMIN_KEY, "SecretAccessKey": ADMIN_SECRET}
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys.get("SessionToken"),
            config=botocore.config.Config(retries={"max_attempts": 2, "mode": "standard"}),
        )

    def role_arn(self, role_name: str) -> str:
        """The role's ARN as IAM gives it (with its path: the stack's roles are under /airflow-<stack>/)."""
        return self.client("iam").get_role(RoleName=role_name)["Role"]["Arn"]

    def credentials(self, role_name: str, session: str = "stand-in") -> dict[str, str]:
        """Temporary credentials of a role, as ECS or Lambda would hand them to its code."""
        answer = self.client("sts").assume_role(RoleArn=self.role_arn(role_name), RoleSessionName=session)
        return answer["Credentials"]

    def client_as(self, role_name: str, service: str) -> Any:
        return self.client(service, self.credentials(role_name))

    def environment(self, credentials: dict[str, str] | None) -> dict[str, str]:
        """The AWS part of a process's environment: this endpoint, this region, these credentials only."""
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        if credentials:
            env.update(
                AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
                AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
                AWS_SESSION_TOKEN=credentials["SessionToken"],
            )
        return env

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_file.exists():
            return []
        return [json.loads(line) for line in self.audit_file.read_text().splitlines() if line.strip()]

    def refusals(self, since: float = 0) -> list[dict[str, Any]]:
        return [e for e in self.audit() if not e["allowed"] and e["at"] >= since]

    def calls_by(self, role_name: str) -> set[str]:
        return {e["operation"] for e in self.audit() if e["principal"] == role_name}

    def mark(self) -> float:
        return time.time()


@contextlib.contextmanager
def running_stand_in(
    workdir: Path | None = None,
    *,
    lambda_concurrency: int = 1000,
    not_orderable: tuple[str, ...] = (),
    unplaceable: tuple[str, ...] = (),
) -> Iterator[StandIn]:
    """The stand-in AWS in a child process, stopped on exit."""
    directory = Path(workdir or tempfile.mkdtemp(prefix="stand-in-"))
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    audit = directory / "iam-audit.jsonl"
    log = (directory / "stand-in.log").open("w")
    env = {
        **os.environ,
        "STANDIN_LAMBDA_CONCURRENCY": str(lambda_concurrency),
        "STANDIN_RDS_NOT_ORDERABLE": ",".join(not_orderable),
        "STANDIN_ECS_UNPLACEABLE": ",".join(unplaceable),
        "STANDIN_ECS_RUNNING": str(directory / "ecs-running.json"),
        "STANDIN_ECS_STOPPED": str(directory / "ecs-stopped.json"),
        "MOTO_ALLOW_NONEXISTENT_REGION": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "standin.server", "--port", str(port), "--audit", str(audit)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=directory,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stand-in AWS did not start: see {directory / 'stand-in.log'}")
            time.sleep(0.2)
        yield StandIn(endpoint, audit, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
