"""Runs of the real program under Pulumi's mocks, shared by the infra tests (each run takes seconds)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from offline.recording import RecordedResource, Recording
from tests.support.variants import PROD_SECRET, SNAPSHOT, VARIANTS  # noqa: F401 (tests import them from here)


def walk_strings(value: Any) -> Iterator[str]:
    """Every string inside a recorded value, including JSON documents held as strings."""
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            try:
                document = json.loads(value)
            except json.JSONDecodeError:
                document = None
            yield from walk_strings(document)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)


def policy_documents(recording: Recording) -> list[tuple[RecordedResource, dict[str, Any]]]:
    return [(r, json.loads(r.inputs["policy"])) for r in recording.of_type("aws:iam/rolePolicy:RolePolicy")]
