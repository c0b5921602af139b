"""The Airflow image in the stack's private ECR repository (GovCloud tasks cannot pull from ECR Public).

By default the program builds `image/Dockerfile` at the stack's Airflow version for the stack's CPU
architecture and pushes it; a stack can instead name an image that already exists in a private ECR
repository.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from stack_context import StackContext

IMAGE_DIR = Path(__file__).resolve().parents[2] / "image"
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
            image = awsx.ecr.Image(
                f"{name}-airflow",
                repository_url=repository.repository_url,
                context=str(IMAGE_DIR),
                dockerfile=str(IMAGE_DIR / "Dockerfile"),
                platform=PLATFORMS[settings.architecture],
                args={"AIRFLOW_VERSION": settings.airflow_version},
                image_tag=settings.airflow_version,
                opts=child,
            )
            self.image_uri = image.image_uri
            self.repository_arn = repository.arn

        self.register_outputs({"imageUri": self.image_uri})
