"""The stack's Airflow components, as ECS services. The core serves the UI and schedules; workers scale."""

from __future__ import annotations

from typing import Literal, get_args

Component = Literal["api-server", "scheduler", "dag-processor", "triggerer", "worker"]
COMPONENTS: tuple[Component, ...] = get_args(Component)
WORKER: Component = "worker"
CORE: tuple[Component, ...] = tuple(c for c in COMPONENTS if c != WORKER)
# The one component a person reaches (the UI and REST API), on this port; its container has its name. Without a
# load balancer, `airflow-stack ui` forwards a local port to it through ECS Exec.
API_SERVER: Component = "api-server"
API_SERVER_PORT = 8080
PORT_FORWARD_DOCUMENT = "AWS-StartPortForwardingSession"  # Session Manager's document for a local port forward
