"""`airflow-stack deployer-policy`: write the deploying role's policies for a stack, and how to attach them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from airflow_stack import bootstrap, deployer
from airflow_stack.outputs import StackError
from airflow_stack.preflight_command import declared


def write_policies(stack: str, account: str, project: Path, out: Path, state_bucket: str | None) -> int:
    if not re.fullmatch(r"\d{12}", account):
        raise StackError(f"--account must be a 12-digit AWS account ID, got {account!r}")
    settings, types = declared(stack, project)
    target = deployer.target_of(settings, account)
    bucket = state_bucket or bootstrap.state_bucket_name(account, settings.region)
    documents = deployer.documents(target, types, bucket)
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, document in enumerate(documents, start=1):
            path = out / f"{deployer.policy_name(stack, index)}.json"
            path.write_text(json.dumps(document, indent=2) + "\n")
            paths.append(path)
    except OSError as error:
        raise StackError(f"--out {out}: {error.strerror or error}") from None
    statements = sum(len(d["Statement"]) for d in documents)
    print(
        f"the role that runs `pulumi up -s {stack}` in {account} ({settings.region}): {statements} statements for "
        f"{len(types)} resource types, in {len(documents)} managed policies (IAM allows "
        f"{deployer.MANAGED_POLICY_MAX_CHARS} characters each)"
    )
    partition = target.partition
    for index, path in enumerate(paths, start=1):
        name = deployer.policy_name(stack, index)
        print(f"  aws iam create-policy --policy-name {name} --policy-document file://{path}")
        print(
            f"  aws iam attach-role-policy --role-name <deploying role> "
            f"--policy-arn arn:{partition}:iam::{account}:policy/{name}"
        )
    return 0
