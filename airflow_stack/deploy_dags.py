"""Ship dags/ to a stack's DAG bundle: test, sync to S3 (removing deleted files), wake the cluster.

    uv run airflow-stack deploy-dags --stack dev            (or `make deploy-dags STACK=dev`)
    uv run airflow-stack deploy-dags --outputs outputs.json (stack outputs saved from `pulumi stack output --json`)

1. Compares dags/ with s3://<dagBucket>/dags/ (by MD5): what is new, changed or deleted.
2. Runs the DAG tests (tests/dags): the parse and policy checks of every file, and the end-to-end runs of
   the DAGs whose files changed or import a changed module (`--all-tests` runs every one). If they fail,
   nothing is uploaded.
3. Uploads new and changed files, deletes files that are gone locally. The bucket is versioned, so a bad
   upload can be rolled back.
4. Asks the waker to wake the cluster briefly so the dag-processor parses the change.

Needs AWS credentials for the stack's account (the region comes from the stack outputs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_stack.outputs import StackError, ToolError, read_outputs
from contracts.waker import Wake, to_event

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
PREFIX = "dags/"
SKIPPED = ("__pycache__", ".pyc", ".DS_Store")
WAKE_HOLD_MINUTES = 15
EXIT_BAD_INPUT, EXIT_TOOL = 2, 4  # as airflow-stack's: bad input 2, Pulumi or AWS errors 4


@dataclass
class SyncPlan:
    upload: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def local_files(folder: Path) -> dict[str, str]:
    """Relative path -> MD5 of every file to ship."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not any(part in relative for part in SKIPPED):
            files[relative] = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    return files


def remote_files(s3: Any, bucket: str) -> dict[str, str]:
    """Relative path -> ETag (the MD5 of single-part uploads, which is how this tool uploads)."""
    files = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        for item in page.get("Contents", []):
            files[item["Key"][len(PREFIX) :]] = item["ETag"].strip('"')
    return files


def plan_sync(local: Mapping[str, str], remote: Mapping[str, str]) -> SyncPlan:
    plan = SyncPlan()
    for name, digest in local.items():
        (plan.unchanged if remote.get(name) == digest else plan.upload).append(name)
    plan.delete = sorted(set(remote) - set(local))
    return plan


def apply_sync(s3: Any, bucket: str, folder: Path, plan: SyncPlan) -> None:
    for name in plan.upload:
        s3.put_object(Bucket=bucket, Key=PREFIX + name, Body=(folder / name).read_bytes())
    for start in range(0, len(plan.delete), 1000):
        batch = plan.delete[start : start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": PREFIX + n} for n in batch], "Quiet": True})


def request_wake(lambda_client: Any, function: str, reason: str) -> dict[str, Any]:
    response = lambda_client.invoke(
        FunctionName=function,
        Payload=json.dumps(to_event(Wake(hold_minutes=WAKE_HOLD_MINUTES, reason=reason))).encode(),
    )
    body = response["Payload"].read().decode()
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return {"ok": response.get("StatusCode") == 200, "answer": body}


def affected_files(folder: Path, changed: list[str]) -> list[str]:
    """The changed Python files and every file in `folder` that imports one of them (shared helpers)."""
    modules = {Path(name).stem for name in changed if name.endswith(".py")}
    affected = {name for name in changed if name.endswith(".py")}
    for path in folder.glob("*.py"):
        text = path.read_text(errors="replace")
        if any(re.search(rf"^\s*(from|import)\s+{re.escape(m)}\b", text, re.MULTILINE) for m in modules):
            affected.add(path.name)
    return sorted(affected)


def run_dag_tests(affected: list[str] | None) -> bool:
    """The DAG tests: parse and policy checks always; the end-to-end runs of `affected` files (None: all)."""
    command = [sys.executable, "-m", "pytest", "-q", "-n", "auto", "--dist", "load", "tests/dags"]
    env = dict(os.environ)
    if affected is not None:
        env["DAG_TESTS_FILES"] = ",".join(affected)  # tests/dags/conftest.py deselects the other runs
    return subprocess.run(command, cwd=ROOT, env=env).returncode == 0


def stack_outputs(stack: str | None, outputs_file: Path | None) -> dict[str, Any]:
    try:
        return read_outputs(str(stack), outputs_file, cwd=ROOT)
    except ToolError as error:
        print(f"deploy-dags: {error} (with make: `make deploy-dags OUTPUTS=FILE`)", file=sys.stderr)
        raise SystemExit(EXIT_TOOL) from None
    except StackError as error:
        print(f"deploy-dags: {error}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None


def deploy(
    outputs: Mapping[str, Any],
    *,
    folder: Path,
    clients: Callable[[str, str], Any],
    tests_pass: Callable[[list[str] | None], bool],
    wake: bool = True,
    all_tests: bool = False,
) -> dict[str, Any]:
    missing = [key for key in ("dagBucket", "region") if not outputs.get(key)]
    if missing:
        raise SystemExit(f"stack outputs lack {', '.join(missing)}: is this an airflow stack?")
    started = time.monotonic()
    region, bucket = outputs["region"], outputs["dagBucket"]
    s3 = clients("s3", region)
    plan = plan_sync(local_files(folder), remote_files(s3, bucket))
    affected = None if all_tests else affected_files(folder, plan.upload)
    if not tests_pass(affected):
        raise SystemExit("the DAG tests failed: nothing was uploaded. Fix them (make dag-check) and retry.")
    tested = time.monotonic()
    apply_sync(s3, bucket, folder, plan)
    uploaded = time.monotonic()
    answer = None
    if wake and outputs.get("wakerFunction") and (plan.upload or plan.delete):
        answer = request_wake(clients("lambda", region), outputs["wakerFunction"], "DAGs deployed")
    return {
        "bucket": bucket,
        "uploaded": plan.upload,
        "deleted": plan.delete,
        "unchanged": len(plan.unchanged),
        "tested_runs_of": affected,
        "seconds_to_tested": round(tested - started, 1),
        "seconds_to_uploaded": round(uploaded - started, 1),
        "wake": answer,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="Pulumi stack whose outputs to read (needs the Pulumi CLI)")
    source.add_argument("--outputs", type=Path, help="JSON file of the stack's outputs")
    parser.add_argument("--no-wake", action="store_true", help="do not ask the waker to wake the cluster")
    parser.add_argument(
        "--all-tests", action="store_true", help="run every DAG's end-to-end test, not only the changed ones'"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ship dags/ to a stack's DAG bundle.")
    add_arguments(parser)
    return ship(parser.parse_args(argv))


def ship(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from airflow_stack import aws
    from airflow_stack.terminal import printable

    outputs = stack_outputs(args.stack, args.outputs)
    try:
        result = deploy(
            outputs,
            folder=DAGS,
            clients=aws.client,
            tests_pass=run_dag_tests,
            wake=not args.no_wake,
            all_tests=args.all_tests,
        )
    except NoCredentialsError:
        print(
            "airflow-stack deploy-dags: no AWS credentials found: sign in first (for example `aws sso login`, or set "
            "AWS_PROFILE), then run it again",
            file=sys.stderr,
        )
        return EXIT_TOOL
    except (BotoCoreError, ClientError) as error:
        print(f"airflow-stack deploy-dags: AWS error: {printable(str(error))}", file=sys.stderr)
        return EXIT_TOOL
    runs = result["tested_runs_of"]
    which = "every DAG" if runs is None else (", ".join(runs) or "none: nothing changed")
    print(
        f"tested in {result['seconds_to_tested']} s (parse and policy of every file; end-to-end runs of {which}); "
        f"uploaded {result['seconds_to_uploaded']} s after the start"
    )
    print(
        f"s3://{result['bucket']}/{PREFIX}: {len(result['uploaded'])} uploaded, {len(result['deleted'])} deleted, "
        f"{result['unchanged']} unchanged"
    )
    for name in result["uploaded"]:
        print(f"  + {name}")
    for name in result["deleted"]:
        print(f"  - {name}")
    if result["wake"] is not None:
        print(f"waker: {result['wake'].get('state', '?')} ({result['wake'].get('reason', result['wake'])})")
    print(
        "Visible in the UI once the dag-processor has parsed it: about 1-2 minutes if the stack is awake, "
        "5-7 minutes if it has to wake first."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
