"""How much of a Fargate task's start is the image pull, from the image's measured size.

Fargate keeps no image cache: every task pulls the whole image, so its start grows with the image's compressed
size (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html). The size is the
one `make image` measured and recorded (costs/image.json, `uv run python -m devtools.build_image --record`); the
pull rate is a field figure, not AWS's: a 2,700 MB image started on Fargate in 55 s from RunTask to a ready
container, pull included (https://drorspei.com/2026/01/23/my-fargate-startup-is-slow-an-investigation-into-docker-layer-optimization),
so at least 49 MB/s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

IMAGE_FILE = Path(__file__).resolve().parent / "image.json"
PULL_MB_PER_SECOND = 2700 / 55  # the field figure above, a lower bound of the rate


@dataclass(frozen=True)
class ImagePull:
    compressed_mb: float
    uncompressed_mb: float
    architecture: str
    measured: str

    @property
    def seconds(self) -> float:
        return self.compressed_mb / PULL_MB_PER_SECOND


def recorded() -> ImagePull | None:
    if not IMAGE_FILE.exists():
        return None
    return ImagePull(**json.loads(IMAGE_FILE.read_text()))


def describe(pull: ImagePull | None, task_start_minutes: int) -> str:
    if pull is None:
        return "Image pull: no measured image size (run `uv run python -m devtools.build_image --record`)."
    return (
        f"Image pull: the image is {pull.compressed_mb:,.0f} MB compressed ({pull.uncompressed_mb:,.0f} MB unpacked; "
        f"`make image`, {pull.architecture}, {pull.measured}); Fargate pulls it whole for every task, about "
        f"{pull.seconds:.0f} s at {PULL_MB_PER_SECOND:.0f} MB/s (a field figure, see costs/image_pull.py) of the "
        f"{task_start_minutes}-min task start the tables use."
    )
