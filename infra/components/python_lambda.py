"""The stack's Lambda functions, packaged one way: a package from lambdas/, ARM64, its own log group."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pulumi
import pulumi_aws as aws

from stack_context import StackContext

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"


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
    """lambdas/<package>/ as the package `<package>`, its entry point `<package>.handler.handler`. No reserved
    concurrency: it fails on accounts at the low default quota (the waker keeps to one run with a lease)."""
    return aws.lambda_.Function(
        name,
        name=function_name,
        description=description,
        runtime=context.settings.lambda_runtime,
        architectures=["arm64"],
        handler=f"{package}.handler.handler",
        code=pulumi.AssetArchive({package: pulumi.FileArchive(str(LAMBDAS_DIR / package))}),
        role=role_arn,
        timeout=timeout,
        memory_size=memory_size,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(environment)),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[log_group]),
    )
