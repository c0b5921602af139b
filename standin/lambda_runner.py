"""Lambda in the stand-in: an invoke runs the function's real handler, as its role, against the stand-in.

moto runs functions only in Docker, which this machine does not have. Here each invocation runs the
handler from the function's deployed archive (unpacked, as Lambda's /var/task) in a fresh Python
process with the function's environment, the temporary credentials of the function's role (so IAM is
enforced on what the handler calls), and AWS_ENDPOINT_URL pointing at the stand-in. A synchronous
invoke returns the handler's result; an asynchronous one (Event) answers 202 and runs it in the
background. Each run's log goes to lambda-<function>.log beside the audit.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any

from standin.identity import ADMIN_KEY, ADMIN_SECRET

RUNNER = """
import json, sys, time
from importlib import import_module

class Context:
    def __init__(self, arn, request_id, timeout):
        self.invoked_function_arn = arn
        self.aws_request_id = request_id
        self.function_name = arn.rsplit(":", 1)[-1]
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self):
        return int(max(0, self._deadline - time.monotonic()) * 1000)

module_name, function_name = sys.argv[1].rsplit(".", 1)
handler = getattr(import_module(module_name), function_name)
event = json.loads(sys.stdin.read() or "null")
result = handler(event, Context(sys.argv[2], sys.argv[3], float(sys.argv[4])))
sys.stdout.write("\\n@@RESULT@@" + json.dumps(result))
"""


def unpacked(function: Any, log_dir: Path) -> Path:
    """The function's deployed archive, unpacked once per version of its code."""
    folder = log_dir / "lambda-code" / f"{function.function_name}-{function.code_sha_256[:16].replace('/', '_')}"
    if not folder.exists():
        partial = folder.with_name(folder.name + f".{uuid.uuid4().hex}")
        with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
            archive.extractall(partial)
        try:
            partial.rename(folder)
        except OSError:  # another invocation unpacked it first
            shutil.rmtree(partial, ignore_errors=True)
    return folder


def run(
    function: Any, payload: bytes, *, endpoint: str, credentials: dict[str, str], log_dir: Path
) -> tuple[bool, bytes]:
    """Run one invocation; (failed, payload)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
        "PYTHONPATH": str(unpacked(function, log_dir)),  # the deployed archive, as Lambda's /var/task
        **{k: str(v) for k, v in (function.environment_vars or {}).items()},
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_REGION": function.region,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
    }
    request_id = str(uuid.uuid4())
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, function.handler, function.function_arn, request_id, str(function.timeout)],
        input=payload or b"null",
        env=env,
        capture_output=True,
        timeout=int(function.timeout) + 30,
    )
    with (log_dir / f"lambda-{function.function_name}.log").open("ab") as log:
        log.write(f"--- {request_id} {payload[:300]!r}\n".encode() + result.stderr)
    output = result.stdout.decode()
    if result.returncode != 0 or "@@RESULT@@" not in output:
        error = {"errorMessage": result.stderr.decode()[-2000:], "errorType": "Unhandled"}
        return True, json.dumps(error).encode()
    return False, output.rsplit("@@RESULT@@", 1)[1].encode()


def install(endpoint: str, log_dir: Path) -> None:
    """Make the stand-in's Lambda invoke run handlers (in this server process)."""
    from urllib.parse import unquote

    import boto3
    from moto.awslambda.responses import LambdaResponse

    def credentials(role_arn: str) -> dict[str, str]:
        sts = boto3.client(
            "sts",
            endpoint_url=endpoint,
            region_name="us-gov-east-1",
            aws_access_key_id=ADMIN_KEY,
            aws_secret_access_key=ADMIN_SECRET,
        )
        return sts.assume_role(RoleArn=role_arn, RoleSessionName="lambda")["Credentials"]

    def invoke(self: Any) -> tuple[int, dict[str, str], str | bytes]:
        function_name = unquote(self.path.rsplit("/", 2)[-2])
        function = self.backend.get_function(function_name, self._get_param("qualifier"))
        body = self.body.encode() if isinstance(self.body, str) else (self.body or b"")
        keys = credentials(function.role)
        if self.headers.get("X-Amz-Invocation-Type") == "Event":
            threading.Thread(
                target=run,
                args=(function, body),
                kwargs={"endpoint": endpoint, "credentials": keys, "log_dir": log_dir},
                daemon=True,
            ).start()
            return 202, {"status": "202", "content-type": "application/json"}, b""
        failed, payload = run(function, body, endpoint=endpoint, credentials=keys, log_dir=log_dir)
        headers = {"content-type": "application/json"}
        if failed:
            headers["x-amz-function-error"] = "Unhandled"
        return 200, headers, payload

    LambdaResponse.invoke = invoke  # type: ignore[method-assign]
