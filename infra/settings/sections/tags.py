"""The stack's own tags, within what AWS allows on a resource."""

from __future__ import annotations

from typing import Any

from infra.settings.schema import (
    InvalidSetting,
    string_map,
)

MAX_TAGS = 50  # per resource (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html)

STACK_TAGS = ("Project", "Stack", "ManagedBy")  # stack_context.stack_tags

RESOURCE_OWN_TAGS = 2  # what a resource may carry of its own (a Name, for one)

_TAG_CHARACTERS = set("_.:/=+-@ ")


def tags(value: Any) -> dict[str, str]:
    """The stack's own tags on top of Project, Stack and ManagedBy: AWS's rules for tag keys and values."""
    given = string_map(value)
    most = MAX_TAGS - len(STACK_TAGS) - RESOURCE_OWN_TAGS
    if len(given) > most:
        raise InvalidSetting(
            f"at most {most} tags: AWS allows {MAX_TAGS} on a resource, and the stack adds {', '.join(STACK_TAGS)} "
            f"and resources a few of their own; got {len(given)}"
        )
    for key, tag_value in given.items():
        if key in STACK_TAGS:
            raise InvalidSetting(f"{key} is the stack's own tag ({', '.join(STACK_TAGS)}); use another key")
        if key.lower().startswith("aws:"):
            raise InvalidSetting(f"tag keys starting with aws: are reserved for AWS, got {key!r}")
        for part in (key, tag_value):
            bad = sorted({c for c in part if not (c.isalnum() or c in _TAG_CHARACTERS)})
            if bad:
                raise InvalidSetting(
                    f"tag {key!r} has characters AWS does not allow ({''.join(bad)!r}): letters, digits, spaces and "
                    "_ . : / = + - @"
                )
    return given
