"""The stack's Lambda functions, packaged one way: a package from lambdas/ with the contracts it shares with the
rest of the stack, on the stack's architecture (`image.architecture`), its own log group."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.stack_context import StackContext

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
CONTRACTS_DIR = LAMBDAS_DIR.parent / "contracts"


def archive_folders(package: str) -> dict[str, Path]:
    """What a Lambda's archive holds, by the folder name it has there: the package (whose modules import each
    other relatively, so it runs as the top-level `<package>`) and the contracts it imports (standard library
    only)."""
    return {package: LAMBDAS_DIR / package, "contracts": CONTRACTS_DIR}


def archive_files(package: str) -> dict[str, Path]:
    """Path in the archive -> file here: the Python files of those folders, and nothing else. A folder archive
    would also take the bytecode caches Python writes beside them, which Lambda's Python never reads, and which
    would change the archive (and so update the function) from one machine or run to the next. The seeded
    stand-in, the waker benchmark and the archive tests zip these same files (offline/lambda_archive.py)."""
    return {
        f"{name}/{path.relative_to(folder).as_posix()}": path
        for name, folder in archive_folders(package).items()
        for path in sorted(folder.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def lambda_log_group(
    name: str,
    context: StackContext,
    function_name: str,
    parent: pulumi.Resource,
) -> aws.cloudwatch.LogGroup:
    """Created before the function, so Lambda does not create it without a retention."""
    return aws.cloudwatch.LogGroup(
        name,
        name=f"/aws/lambda/{function_name}",
        retention_in_days=context.settings.log_retention_days,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def python_lambda(
    name: str,
    context: StackContext,
    *,
    parent: pulumi.Resource,
    function_name: str,
    package: str,
    description: str,
    role_arn: pulumi.Input[str],
    log_group: aws.cloudwatch.LogGroup,
    timeout: int,
    memory_size: int,
    environment: Mapping[str, pulumi.Input[str]],
) -> aws.lambda_.Function:
    """lambdas/<package>/ as the package `<package>` beside `contracts`, entry point `<package>.handler.handler`.
    No reserved concurrency: it fails on accounts at the low default quota (the waker keeps to one run with a
    lease)."""
    return aws.lambda_.Function(
        name,
        name=function_name,
        description=description,
        runtime=context.settings.lambda_runtime,
        architectures=[context.settings.image.architecture],  # the stack's one architecture choice
        handler=f"{package}.handler.handler",
        code=pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in archive_files(package).items()}),
        role=role_arn,
        timeout=timeout,
        memory_size=memory_size,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(environment)),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[log_group]),
    )
