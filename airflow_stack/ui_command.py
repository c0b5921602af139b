"""`airflow-stack ui --stack S`: a stack's UI at http://127.0.0.1:PORT, through ECS Exec and Session Manager.

For a stack without a load balancer (dev), whose api-server is reachable only inside its VPC. The command wakes
the stack (held awake for --hold), waits until the api-server runs, and forwards a local port to the
api-server's container with `aws ssm start-session --document-name AWS-StartPortForwardingSession`, until
Ctrl-C. Each request made through it is in the api-server's access log, which the waker reads: using the UI
keeps the stack awake, and it sleeps after its idle time once nobody uses it.

Needs, on this machine: the AWS CLI v2 and AWS's Session Manager plugin (`session-manager-plugin`). In the
stack: `ui.portForward` (on by default without a load balancer), which turns ECS Exec on for the api-server and
lets its task open Session Manager's channels. For the person: the stack's `operatorPolicyArn`, which allows a
Session Manager session to the stack's tasks with the port-forwarding document only (no shell: no
`ecs:ExecuteCommand`). The task reaches Session Manager over HTTPS like any other AWS endpoint (a public IP or a
NAT gateway; a stack with neither needs an `ssmmessages` interface endpoint in its VPC). ECS Exec and Session
Manager charge nothing for this; the awake stack does.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from typing import Any

from airflow_stack import operations
from airflow_stack.outputs import StackError, ToolError
from contracts.components import API_SERVER, API_SERVER_PORT, PORT_FORWARD_DOCUMENT
from contracts.waker import Wake, to_event

TOOLS = ("aws", "session-manager-plugin")


def port_forward_target(ecs: Any, cluster: str) -> str:
    """Session Manager's name of the api-server's running container: `ecs:<cluster>_<task id>_<runtime id>`."""
    arns = ecs.list_tasks(cluster=cluster, serviceName=API_SERVER, desiredStatus="RUNNING")["taskArns"]
    if not arns:
        raise StackError(f"no {API_SERVER} task runs in {cluster}: wake the stack first")
    tasks = sorted(
        ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"],
        key=lambda t: str(t.get("startedAt", "")),
        reverse=True,
    )
    for task in tasks:
        container = next((c for c in task.get("containers", []) if c.get("name") == API_SERVER), None)
        if task.get("lastStatus") != "RUNNING" or container is None or not container.get("runtimeId"):
            continue
        if not task.get("enableExecuteCommand"):
            raise StackError(
                f"the {API_SERVER} task was started without ECS Exec: set ui.portForward: true in the stack's "
                "settings, `pulumi up`, and let the stack sleep and wake once"
            )
        task_id = str(task["taskArn"]).rsplit("/", 1)[-1]
        return f"ecs:{cluster}_{task_id}_{container['runtimeId']}"
    raise StackError(f"the {API_SERVER} task has not started its container yet: try again in a minute")


def session_command(region: str, target: str, local_port: int) -> list[str]:
    parameters = {"portNumber": [str(API_SERVER_PORT)], "localPortNumber": [str(local_port)]}
    return [
        "aws",
        "ssm",
        "start-session",
        "--region",
        region,
        "--target",
        target,
        "--document-name",
        PORT_FORWARD_DOCUMENT,
        "--parameters",
        json.dumps(parameters, separators=(",", ":")),
    ]


def open_ui(stack: operations.Stack, *, port: int, hold_minutes: int, timeout_minutes: int, print_only: bool) -> int:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing and not print_only:  # before anything is asked of the stack
        raise ToolError(
            f"`airflow-stack ui` runs {' and '.join(missing)}, not found on PATH: install the AWS CLI v2 and the "
            "Session Manager plugin (AWS Systems Manager User Guide, 'Install the Session Manager plugin')"
        )
    answer = stack.invoke_waker(to_event(Wake(hold_minutes=hold_minutes, reason="airflow-stack ui")))
    if not answer.get("ok", False):
        raise StackError(f"the waker refused to wake the stack: {answer.get('error') or answer.get('reason')}")
    if not operations.wait_for_counts(stack, operations.all_up, timeout=timeout_minutes * 60):
        raise StackError(f"the stack was not up after {timeout_minutes} minutes (`airflow-stack status` says why)")
    target = port_forward_target(stack.client("ecs"), stack.outputs["clusterName"])
    command = session_command(stack.outputs.region, target, port)
    if print_only:
        print(shlex.join(command))
        return 0
    print(
        f"Airflow UI: http://127.0.0.1:{port} (user admin; `airflow-stack admin-password --stack "
        f"{stack.outputs.stack}`); Ctrl-C ends the forward, and the stack sleeps once idle"
    )
    return subprocess.run(command, check=False).returncode  # noqa: S603 - our own argument list, no shell
