"""The image's build context, copied, for tests that change a file of it."""

from __future__ import annotations

import shutil
from pathlib import Path

from infra.image_context import CONTEXT_DIR, context_files


def copied_context(tmp_path: Path) -> Path:
    """The build context as Docker would send it (and the ignore file), in a folder of its own."""
    context = tmp_path / "context"
    for name in [*context_files(), "image/Dockerfile.dockerignore", "image/Dockerfile"]:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CONTEXT_DIR / name, context / name)
    return context
