"""The stack's Airflow components, as ECS services. The core serves the UI and schedules; workers scale."""

from __future__ import annotations

from typing import Literal, get_args

Component = Literal["api-server", "scheduler", "dag-processor", "triggerer", "worker"]
COMPONENTS: tuple[Component, ...] = get_args(Component)
WORKER: Component = "worker"
CORE: tuple[Component, ...] = tuple(c for c in COMPONENTS if c != WORKER)
