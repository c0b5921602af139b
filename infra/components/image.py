"""The Airflow image in the stack's private ECR repository (GovCloud tasks cannot pull from ECR Public).

By default the program builds `image/Dockerfile` (its context the repository, less what `.dockerignore`
leaves out) at the stack's Airflow version for the stack's CPU architecture and pushes it; a stack can
instead name an image that already exists in a private ECR repository.

The image is tagged with a hash of its build context (image_context.content_tag) and the task definitions
name it by that tag, not by the digest a build returns: a `pulumi up` whose context is unchanged changes no
task definition (no migration rerun, no redeploy of the services), even if the build runs again. A build
of an unchanged context takes its layers from the pushed image of the same tag (`cache_from`, with BuildKit's
inline cache), so nothing is rebuilt under emulation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.image_context import CONTEXT_DIR, DOCKERFILE, content_tag
from infra.stack_context import StackContext

KEEP_IMAGES = 10
PLATFORMS = {"arm64": "linux/arm64", "x86_64": "linux/amd64"}


@dataclass(frozen=True)
class AirflowImageArgs:
    context: StackContext


def repository_arn_of(context: StackContext, image_uri: str) -> str:
    """ARN of the ECR repository an image URI points into."""
    match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)[:@].*", image_uri)
    if match is None:
        raise ValueError(f"not a private ECR image URI: {image_uri}")
    account, region, repository = match.groups()
    return f"arn:{context.partition}:ecr:{region}:{account}:repository/{repository}"


def lifecycle_policy() -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the newest {KEEP_IMAGES} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEEP_IMAGES},
                    "action": {"type": "expire"},
                }
            ]
        }
    )


class AirflowImage(pulumi.ComponentResource):
    image_uri: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AirflowImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("airflow:image:AirflowImage", name, None, opts)
        context = args.context
        settings = context.settings.image
        child = pulumi.ResourceOptions(parent=self)

        if settings.uri:
            self.image_uri = pulumi.Output.from_input(settings.uri)
            self.repository_arn = pulumi.Output.from_input(repository_arn_of(context, settings.uri))
        else:
            repository = aws.ecr.Repository(
                f"{name}-repository",
                name=context.name,
                image_tag_mutability="MUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
                force_delete=not context.settings.database.deletion_protection,
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-lifecycle", repository=repository.name, policy=lifecycle_policy(), opts=child
            )
            tag = content_tag(
                settings.airflow_version, settings.architecture, context=CONTEXT_DIR, dockerfile=DOCKERFILE
            )
            image = awsx.ecr.Image(
                f"{name}-airflow",
                repository_url=repository.repository_url,
                context=str(CONTEXT_DIR),  # the repository, less what /.dockerignore leaves out
                dockerfile=str(DOCKERFILE),
                platform=PLATFORMS[settings.architecture],
                args={"AIRFLOW_VERSION": settings.airflow_version, "BUILDKIT_INLINE_CACHE": "1"},
                image_tag=tag,
                cache_from=[repository.repository_url.apply(lambda url: f"{url}:{tag}")],
                opts=child,
            )
            # By its content tag, once pushed: the digest of a rebuild of the same context may differ.
            self.image_uri = pulumi.Output.all(repository.repository_url, image.image_uri).apply(
                lambda values: f"{values[0]}:{tag}"
            )
            self.repository_arn = repository.arn

        self.register_outputs({"imageUri": self.image_uri})
