"""A Lambda's archive as the program ships it (infra/components/python_lambda.py names the folders), for
whatever runs or measures it here: the stand-in's functions, the waker benchmark, the package tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from infra.components.python_lambda import archive_files

__all__ = ["archive_bytes", "archive_files", "unpack"]


def archive_bytes(package: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in archive_files(package).items():
            archive.write(path, name)
    return buffer.getvalue()


def unpack(package: str, into: Path) -> Path:
    """The archive unpacked into `into`, as Lambda's /var/task."""
    with zipfile.ZipFile(io.BytesIO(archive_bytes(package))) as archive:
        archive.extractall(into)
    return into
