"""What every component needs to know about the stack: its settings, its AWS provider and account.

The provider carries the stack's tags as default tags, so tags are merged in this one place.
ARNs are built from the partition the provider reports (`aws-us-gov` in GovCloud), never a literal.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from contracts.stacks import PROJECT
from infra.settings import Settings


@dataclass(frozen=True)
class StackContext:
    settings: Settings
    provider: aws.Provider
    partition: str
    dns_suffix: str
    account_id: str

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def metric_namespace(self) -> str:
        """CloudWatch namespace of the stack's activity and waker metrics (IAM conditions use it)."""
        return f"Airflow/{self.name}"

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"

    def service_principal(self, service: str) -> str:
        return f"{service}.{self.dns_suffix}"

    def options(self, **kwargs) -> pulumi.ResourceOptions:
        """Options for a top-level component: the stack's provider, inherited by every child."""
        return pulumi.ResourceOptions(providers={"aws": self.provider}, **kwargs)


def stack_tags(settings: Settings) -> dict[str, str]:
    return {"Project": PROJECT, "Stack": settings.stack, "ManagedBy": "pulumi", **settings.tags}


def create_context(settings: Settings) -> StackContext:
    provider = aws.Provider("aws", region=settings.region, default_tags={"tags": stack_tags(settings)})
    invoke = pulumi.InvokeOptions(provider=provider)
    partition = aws.get_partition(opts=invoke)
    identity = aws.get_caller_identity(opts=invoke)
    if partition.partition != settings.partition:
        raise ValueError(
            f"aws:region {settings.region} is in partition {settings.partition}, but the "
            f"credentials in use are for {partition.partition}"
        )
    return StackContext(settings, provider, partition.partition, partition.dns_suffix, identity.account_id)
