"""RDS as the waker or the CLI reads it, with the status a test says (moto stops and starts at once)."""

from __future__ import annotations

from typing import Any


class StatusShown:
    def __init__(self, rds: Any, shown: str | None = None) -> None:
        self._rds = rds
        self.shown = shown  # None: the status moto has

    def describe_db_instances(self, **kwargs: Any) -> dict[str, Any]:
        answer = self._rds.describe_db_instances(**kwargs)
        if self.shown is not None:
            for instance in answer["DBInstances"]:
                instance["DBInstanceStatus"] = self.shown
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rds, name)
